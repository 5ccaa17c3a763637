// Run in the active tab only when the user opens the toolbar popup there (scripting.executeScript,
// isolated world): which chat app Veil knows the page looks like, so the popup can offer to turn
// Veil on for its site. Changes nothing in the page and tells it nothing; the generic adapter
// (any page with a text box) is never suggested.
import { defineUnlistedScript } from 'wxt/utils/define-unlisted-script';
import { detectSiteAdapter } from '../../site-adapters/detect';

export default defineUnlistedScript(() => detectSiteAdapter(new URL(location.href), document));
