// Which view the page shows: the map with its panels, or the statistics or
// rules view over it (the map stays as it is underneath, live feed and all).

import type { Map as MapLibreMap } from 'maplibre-gl';

import type { RulesView } from './rules';
import type { StatsView } from './stats';
import type { Ui, View } from './ui';

export interface ViewsOptions {
  map: MapLibreMap;
  ui: Pick<Ui, 'root' | 'setView'>;
  stats: Pick<StatsView, 'root' | 'show'>;
  rules: Pick<RulesView, 'root' | 'show'>;
}

export interface Views {
  show(view: View): void;
  /** Signed out, the map and panels are inert (the sign-in screen covers them). */
  setSignedIn(signedIn: boolean): void;
}

export function createViews({ map, ui, stats, rules }: ViewsOptions): Views {
  let view: View = 'map';
  let signedIn = false;
  document.body.dataset['view'] = view;

  /** In the statistics and rules views the map, covered, is inert too. */
  function applyInert(): void {
    ui.root.inert = !signedIn;
    map.getContainer().inert = !signedIn || view !== 'map';
  }

  return {
    show(next) {
      view = next;
      document.body.dataset['view'] = next;
      ui.setView(next);
      stats.root.hidden = next !== 'stats';
      rules.root.hidden = next !== 'rules';
      applyInert();
      if (next === 'stats') stats.show();
      else if (next === 'rules') rules.show();
      else map.triggerRepaint();
    },
    setSignedIn(value) {
      signedIn = value;
      applyInert();
    },
  };
}
