// Toolbar popup entry: compact status and links into the options page.
import { render } from 'preact';
import { t, uiLanguage } from '../../ui/i18n';
import { PopupApp } from '../../ui/popup-app';
import '../../ui/veil.css';

document.title = t('app_name');
document.documentElement.lang = uiLanguage();
render(<PopupApp />, document.getElementById('app')!);
