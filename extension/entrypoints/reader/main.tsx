// Reader frame entry: one decrypted message inside a host page (extension origin).
import { render } from 'preact';
import { frameToken } from '../../frames/frame-key';
import { ReaderApp } from '../../frames/reader-app';
import { uiLanguage } from '../../ui/i18n';
import '../../ui/veil.css';
import '../../frames/frames.css';

document.documentElement.lang = uiLanguage();
render(<ReaderApp token={frameToken()} />, document.getElementById('app')!);
