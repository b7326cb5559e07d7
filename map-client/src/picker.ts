// Picking on the map for a form or an action: a place (the report form, an
// incident placed by hand) or an incident (the case a duplicate repeats, by
// clicking it on the map or in the list). While a pick is under way, map
// clicks and list rows go to it instead of selecting; Escape or a new pick
// cancels it. One pick at a time, page-wide.

import type { IncidentId } from './incidents';

export type PickKind = 'point' | 'incident';

export interface Pick {
  kind: PickKind;
  /** A place was clicked (kind `point`). */
  onPoint?(at: [number, number]): void;
  /** An incident was clicked on the map or in the list (kind `incident`). */
  onIncident?(id: IncidentId): void;
  /** The pick ended without a choice (Escape, another pick, cancelled). */
  onCancel?(): void;
}

let current: Pick | null = null;
const listeners = new Set<(pick: Pick | null) => void>();

function announce(): void {
  document.body.dataset['picking'] = current?.kind ?? '';
  for (const listener of listeners) listener(current);
}

/** Starts a pick (cancelling one under way). */
export function startPick(pick: Pick): void {
  const before = current;
  current = pick;
  before?.onCancel?.();
  announce();
}

/** Ends `pick` (or whatever pick is under way) without a choice. */
export function cancelPick(pick?: Pick): void {
  if (!current || (pick && current !== pick)) return;
  const before = current;
  current = null;
  before.onCancel?.();
  announce();
}

export function currentPick(): Pick | null {
  return current;
}

/** Hands a clicked place to the pick under way; true when taken. */
export function pickPoint(at: [number, number]): boolean {
  const pick = current;
  if (!pick || pick.kind !== 'point') return false;
  current = null;
  announce();
  pick.onPoint?.(at);
  return true;
}

/** Hands a clicked incident to the pick under way; true when taken. */
export function pickIncident(id: IncidentId): boolean {
  const pick = current;
  if (!pick || pick.kind !== 'incident') return false;
  current = null;
  announce();
  pick.onIncident?.(id);
  return true;
}

export function onPickChange(listener: (pick: Pick | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && current) cancelPick();
});
