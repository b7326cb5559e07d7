// Where the map looks when the client moves it: to an incident picked in the
// list, or around an incident and its top candidates. The side panels cover
// part of the map, so both aim at the part between them.

import type { Map as MapLibreMap } from 'maplibre-gl';

import type { Candidates } from './api';
import { lineTargets } from './dispatch';

export interface Camera {
  /** Flies to a point, zoomed in to at least 14. */
  flyTo(lon: number, lat: number): void;
  /**
   * Shows the incident and the lines to its top candidates: a far candidate is
   * otherwise off the screen. Ranked again (workers move), the view is widened
   * only if a line end left it and the user has not moved the map since.
   */
  fitCandidates(answer: Candidates | null): void;
  /** Fits an area ([minLon, minLat, maxLon, maxLat]) into the part of the map between the side panels. */
  fitArea(bbox: [number, number, number, number]): void;
  /**
   * Opens the map on the caller's area (at sign-in), at once, unless the view the page
   * opened with (the URL's) already looks at it: its centre inside the area, and the area
   * not a speck in it.
   */
  openOn(bbox: [number, number, number, number]): void;
}

/** A narrow window leaves little map between the panels: the candidates are fitted to the whole map then. */
function narrow(left: number, right: number): boolean {
  return right - left <= 240;
}

export function createCamera(map: MapLibreMap): Camera {
  /** The incident whose candidates the map last fitted. */
  let fittedFor: string | null = null;
  /** Set when the user moves the map: new rankings then leave the view where they put it. */
  let viewMovedByUser = false;
  map.on('movestart', (e: { originalEvent?: unknown }) => {
    if (e.originalEvent) viewMovedByUser = true;
  });

  /** Where the side panels end and begin: the map between them is what the user sees. */
  function panelEdges(): [number, number] {
    const rect = (selector: string): DOMRect | null => {
      const node = document.querySelector<HTMLElement>(selector);
      if (!node || node.offsetParent === null) return null;
      return node.getBoundingClientRect();
    };
    const width = map.getContainer().clientWidth;
    const left = rect('.side');
    const right = rect('#side-right');
    return [left ? left.right : 0, right ? right.left : width];
  }

  /** The map's horizontal span the user sees: between the side panels, or all of it in a narrow window. */
  function visibleSpan(): [number, number] {
    const [left, right] = panelEdges();
    return narrow(left, right) ? [0, map.getContainer().clientWidth] : [left, right];
  }

  /** Horizontal offset that centres a point in the part of the map the side panels leave visible. */
  function panelOffset(): [number, number] {
    const sheet = sheetPadding();
    if (sheet) return [0, Math.round((sheet.top - sheet.bottom) / 2)];
    const [leftEdge, rightEdge] = panelEdges();
    const width = map.getContainer().clientWidth;
    return [Math.round((leftEdge + rightEdge) / 2 - width / 2), 0];
  }

  /** The incident and the far ends of its lines are all between the panels. */
  function lineEndsInView(answer: Candidates): boolean {
    const [left, right] = visibleSpan();
    const height = map.getContainer().clientHeight;
    return [answer.incident, ...lineTargets(answer)].every(({ lon, lat }) => {
      const p = map.project([lon, lat]);
      return p.x >= left && p.x <= right && p.y >= 0 && p.y <= height;
    });
  }

  /**
   * On a phone the case panel is a sheet along the bottom (and the header a bar along the
   * top): what is fitted goes into the map between them.
   */
  function sheetPadding(): { top: number; bottom: number; left: number; right: number } | null {
    const sheet = document.querySelector<HTMLElement>('#side-right');
    const container = map.getContainer();
    if (!sheet || sheet.offsetParent === null) return null;
    const box = sheet.getBoundingClientRect();
    if (box.width < container.clientWidth - 24 || box.top <= 0) return null;
    const bar = document.querySelector<HTMLElement>('.topbar')?.getBoundingClientRect();
    const top = (bar ? bar.bottom : 0) + 16;
    const bottom = Math.max(16, container.clientHeight - box.top + 16);
    // a sheet taller than the map leaves no room: then the whole map
    return top + bottom < container.clientHeight - 80 ? { top, bottom, left: 24, right: 24 } : null;
  }

  function areaPadding(): number | { top: number; bottom: number; left: number; right: number } {
    const sheet = sheetPadding();
    if (sheet) return sheet;
    const [left, right] = panelEdges();
    const width = map.getContainer().clientWidth;
    return narrow(left, right) ? 40 : { top: 70, bottom: 70, left: left + 50, right: width - right + 50 };
  }

  return {
    openOn([minLon, minLat, maxLon, maxLat]) {
      const bounds: [[number, number], [number, number]] = [
        [minLon, minLat],
        [maxLon, maxLat],
      ];
      const padding = areaPadding();
      const fitted = map.cameraForBounds(bounds, { padding, maxZoom: 17 });
      const centre = map.getCenter();
      const inside = centre.lng >= minLon && centre.lng <= maxLon && centre.lat >= minLat && centre.lat <= maxLat;
      // two zoom levels out the area fills a sixteenth of the view: still the caller's map
      if (inside && (fitted?.zoom === undefined || map.getZoom() >= fitted.zoom - 2)) return;
      map.fitBounds(bounds, { padding, maxZoom: 17, animate: false });
    },
    flyTo(lon, lat) {
      map.flyTo({ center: [lon, lat], zoom: Math.max(map.getZoom(), 14), offset: panelOffset(), essential: true, maxDuration: 2500 });
    },
    fitArea([minLon, minLat, maxLon, maxLat]) {
      const padding = areaPadding();
      map.fitBounds(
        [
          [minLon, minLat],
          [maxLon, maxLat],
        ],
        { padding, maxZoom: 15, duration: 1200, essential: true },
      );
    },
    fitCandidates(answer) {
      const id = answer ? String(answer.incident.id) : null;
      if (id !== fittedFor) {
        fittedFor = id;
        viewMovedByUser = false;
      } else if (viewMovedByUser || (answer && lineEndsInView(answer))) {
        return;
      }
      if (!answer) return;
      const ends = lineTargets(answer);
      if (ends.length === 0) return;
      const lons = [answer.incident.lon, ...ends.map((c) => c.lon)];
      const lats = [answer.incident.lat, ...ends.map((c) => c.lat)];
      const [left, right] = panelEdges();
      const width = map.getContainer().clientWidth;
      const padding = narrow(left, right) ? 40 : { top: 80, bottom: 60, left: left + 60, right: width - right + 60 };
      map.fitBounds(
        [
          [Math.min(...lons), Math.min(...lats)],
          [Math.max(...lons), Math.max(...lats)],
        ],
        { padding, maxZoom: 16, duration: 800 },
      );
    },
  };
}
