// Map icons drawn in the page (no sprite file to fetch): one worker marker per
// status, and a grey one for workers whose position is stale. A diamond, so
// that workers do not read as incidents (circles). Also used as legend swatches.

import type { Map as MapLibreMap } from 'maplibre-gl';
import { WORKER_STATUSES } from './api';
import { WORKER_COLORS } from './layers';

const PIXEL_RATIO = 2;
/** CSS pixels */
const SIZE = 16;

export type WorkerIcon = (typeof WORKER_STATUSES)[number] | 'stale';
export const WORKER_ICONS: readonly WorkerIcon[] = [...WORKER_STATUSES, 'stale'];

function drawWorker(ctx: CanvasRenderingContext2D, size: number, fill: string, stale: boolean): void {
  const c = size / 2;
  const r = size / 2 - size * 0.04;
  ctx.clearRect(0, 0, size, size);
  ctx.beginPath();
  ctx.moveTo(c, c - r);
  ctx.lineTo(c + r, c);
  ctx.lineTo(c, c + r);
  ctx.lineTo(c - r, c);
  ctx.closePath();
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.lineWidth = size * 0.07;
  ctx.lineJoin = 'round';
  ctx.strokeStyle = stale ? '#8a8a8a' : '#ffffff';
  ctx.stroke();
}

function canvas(size: number): [HTMLCanvasElement, CanvasRenderingContext2D] {
  const node = document.createElement('canvas');
  node.width = size;
  node.height = size;
  const ctx = node.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas');
  return [node, ctx];
}

/** Adds the worker icons to the map's style (once per style). */
export function addWorkerIcons(map: MapLibreMap): void {
  const px = SIZE * PIXEL_RATIO;
  const [, ctx] = canvas(px);
  for (const icon of WORKER_ICONS) {
    const id = `worker-${icon}`;
    if (map.hasImage(id)) continue;
    drawWorker(ctx, px, WORKER_COLORS[icon], icon === 'stale');
    map.addImage(id, ctx.getImageData(0, 0, px, px), { pixelRatio: PIXEL_RATIO });
  }
}

/** The worker icon as a small canvas element, for the legend. */
export function workerSwatch(icon: WorkerIcon): HTMLCanvasElement {
  const px = SIZE * PIXEL_RATIO;
  const [node, ctx] = canvas(px);
  drawWorker(ctx, px, WORKER_COLORS[icon], icon === 'stale');
  node.className = 'worker-swatch';
  node.style.width = `${SIZE - 2}px`;
  node.style.height = `${SIZE - 2}px`;
  if (icon === 'stale') node.style.opacity = '0.7';
  node.setAttribute('aria-hidden', 'true');
  return node;
}
