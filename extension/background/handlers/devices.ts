// Handlers for our account's devices (background only): list, link a new browser with a code,
// join an account from one, and unlink. The flow itself lives in linked-devices.ts.
import {
  confirmLink,
  joinStatus,
  joinWithCode,
  linkStatus,
  listDevices,
  removeDevice,
  startLink,
} from '../linked-devices';
import type { ServiceHandlers } from './types';

export const deviceHandlers: ServiceHandlers<
  | 'listDevices'
  | 'startLink'
  | 'linkStatus'
  | 'confirmLink'
  | 'joinWithCode'
  | 'joinStatus'
  | 'removeDevice'
> = {
  listDevices: (svc) => listDevices(svc),
  startLink: (svc) => startLink(svc),
  linkStatus: (svc) => linkStatus(svc),
  confirmLink: (svc, { accept }) => confirmLink(svc, accept),
  joinWithCode: (svc, { code }) => joinWithCode(svc, code),
  joinStatus: (svc) => joinStatus(svc),
  removeDevice: (svc, { deviceId }) => removeDevice(svc, deviceId),
};
