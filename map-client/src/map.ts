// The MapLibre map itself: its options and controls, and what becomes of its
// errors. What is drawn on it is other modules' business.

import { Map as MapLibreMap, NavigationControl, ScaleControl, setWorkerUrl, type MapOptions } from 'maplibre-gl';
// maplibre-gl 6 is ESM only and finds its worker next to its own module by
// default; once bundled it is not there, so the worker file is emitted as an
// asset and its URL handed over explicitly.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';

import { ANALYSIS_SOURCES } from './analysisstyle';
import type { ApiError } from './api';
import { sourceError } from './errors';
import { mapLocale, onLangChange, t, type MessageKey } from './i18n';
import { buildStyle, isTileLayer } from './layers';

/** Initial view (the whole of Yuxi) unless the URL hash says otherwise. */
const YUXI_CENTER: [number, number] = [102.3, 24.2];
const YUXI_ZOOM = 8;

export function createMap(container: HTMLElement, transformRequest: MapOptions['transformRequest']): MapLibreMap {
  setWorkerUrl(workerUrl);
  const map = new MapLibreMap({
    container,
    style: buildStyle(),
    center: YUXI_CENTER,
    zoom: YUXI_ZOOM,
    minZoom: 5,
    maxZoom: 18,
    hash: true,
    locale: mapLocale(),
    attributionControl: { compact: true },
    dragRotate: false,
    pitchWithRotate: false,
    transformRequest,
  });
  map.touchZoomRotate.disableRotation();

  let navigation = new NavigationControl({ showCompass: false });
  let scale = new ScaleControl({ unit: 'metric' });
  map.addControl(navigation, 'bottom-right');
  map.addControl(scale, 'bottom-left');

  onLangChange(() => {
    // MapLibre reads its control strings when a control is added: refresh them.
    map._locale = { ...map._locale, ...mapLocale() };
    map.getCanvas().setAttribute('aria-label', t('map.title'));
    map.removeControl(navigation);
    map.removeControl(scale);
    navigation = new NavigationControl({ showCompass: false });
    scale = new ScaleControl({ unit: 'metric' });
    map.addControl(navigation, 'bottom-right');
    map.addControl(scale, 'bottom-left');
  });
  return map;
}

export interface MapErrorHandlers {
  showError(message: string): void;
  /** A tile answered 401: the session may have gone. */
  onTileUnauthenticated(err: ApiError): void;
}

/**
 * Reports the map's errors, and returns the style's loading: resolved once
 * loaded, rejected by an error that comes first.
 *
 * MapLibre only logs errors itself when nobody listens, so they are logged
 * here (the browser test fails on console errors) and shown in the banner.
 * An error before the style has loaded (an invalid style) means the style
 * will never load: whatever waits for it rejects instead of hanging.
 */
export function watchErrors(map: MapLibreMap, handlers: MapErrorHandlers): Promise<void> {
  let rejectStyle: (err: unknown) => void = () => {};
  const styleLoaded = new Promise<void>((resolve, reject) => {
    rejectStyle = reject;
    map.once('load', () => resolve());
  });
  map.on('error', (e) => {
    const failed = sourceError(e as { sourceId?: string; error?: unknown });
    if (failed) {
      if (failed.status === 401) {
        handlers.onTileUnauthenticated(failed.error);
        return;
      }
      console.error(e.error);
      const what: MessageKey = isTileLayer(failed.source) || ANALYSIS_SOURCES.includes(failed.source) ? 'tiles.title' : 'basemap.title';
      // one banner line per source and status, however many tiles fail
      handlers.showError(`${t(what)} ${failed.source}${failed.status ? ` (${failed.status})` : ''}`);
      return;
    }
    console.error(e.error);
    handlers.showError(e.error?.message ?? String(e.error));
    if (!map.isStyleLoaded()) rejectStyle(e.error);
  });
  return styleLoaded;
}
