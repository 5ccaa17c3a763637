// Options page entry: the full Veil app (onboarding, contacts, verify, backup, settings) in a tab.
import { render } from 'preact';
import { t, uiLanguage } from '../../ui/i18n';
import { OptionsApp } from '../../ui/options-app';
import '../../ui/veil.css';

document.title = t('options_title');
document.documentElement.lang = uiLanguage();
render(<OptionsApp />, document.getElementById('app')!);
