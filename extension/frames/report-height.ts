// Tells the background how tall a frame's content is (extension page inside a host page), only
// when the quantised height changes; the background forwards it to the content script. Never
// window.postMessage: the host page would see it, and could send fake ones.
import { quantiseHeight } from '../content/frame-height';
import { sendMessage } from '../messaging/client';

export function reportHeight(
  token: string,
  root: HTMLElement = document.documentElement,
): () => void {
  let last = -1;
  const measure = () => {
    const height = quantiseHeight(Math.ceil(root.getBoundingClientRect().height));
    if (height === last) return;
    last = height;
    sendMessage({ type: 'frameHeight', token, height }).catch(() => undefined);
  };
  const observer = new ResizeObserver(measure);
  observer.observe(root);
  measure();
  return () => observer.disconnect();
}
