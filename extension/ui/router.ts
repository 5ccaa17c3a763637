// The options page's screens live in the URL hash (#contacts, #verify/alice, …) so the popup can
// link to them and the browser's back button works.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { name: 'contacts' }
  | { name: 'welcome' }
  | { name: 'verify'; handle: string }
  | { name: 'backup' }
  | { name: 'archive' }
  | { name: 'settings' };

export function parseRoute(hash: string): Route {
  const [name = '', ...rest] = hash.replace(/^#\/?/, '').split('/');
  switch (name) {
    case 'welcome':
    case 'backup':
    case 'archive':
    case 'settings':
      return { name };
    case 'verify': {
      const handle = decodeURIComponent(rest.join('/'));
      return handle ? { name: 'verify', handle } : { name: 'contacts' };
    }
    default:
      return { name: 'contacts' };
  }
}

export function routeHref(route: Route): string {
  return route.name === 'verify' ? `#verify/${encodeURIComponent(route.handle)}` : `#${route.name}`;
}

export function navigate(route: Route): void {
  location.hash = routeHref(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => {
      const next = parseRoute(location.hash);
      setRoute((current) => (routeHref(current) === routeHref(next) ? current : next));
    };
    addEventListener('hashchange', update);
    // The hash may have changed between the first render and this effect.
    update();
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
