// Composer frame entry: where the user types a message for a host page (extension origin).
import { render } from 'preact';
import { frameToken } from '../../frames/frame-key';
import { ComposerApp } from '../../frames/composer-app';
import { uiLanguage } from '../../ui/i18n';
import '../../ui/veil.css';
import '../../frames/frames.css';

document.documentElement.lang = uiLanguage();
render(<ComposerApp token={frameToken()} />, document.getElementById('app')!);
