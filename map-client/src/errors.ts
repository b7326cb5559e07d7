// Failures put into words for the error banner. Kept apart from the session
// and the map so that both, and the first load, word them the same way.

import { ApiError } from './api';
import { t, type MessageKey } from './i18n';

export function describeError(what: MessageKey, err: unknown): string {
  if (err instanceof ApiError) {
    const status = err.status ? ` (${err.status})` : '';
    const detail = err.status === null ? t('error.network') : err.message;
    return `${t(what)}${status}: ${detail}`;
  }
  return `${t(what)}: ${err instanceof Error ? err.message : String(err)}`;
}

export interface SourceError {
  source: string;
  status: number | null;
  error: ApiError;
}

/** A map error about a source: the source, the HTTP status (if any) and a message. */
export function sourceError(e: { sourceId?: string; error?: unknown }): SourceError | null {
  if (!e.sourceId) return null;
  const raw = e.error as { status?: unknown; url?: unknown; message?: unknown } | undefined;
  const status = typeof raw?.status === 'number' ? raw.status : null;
  const url = typeof raw?.url === 'string' ? raw.url : '';
  const message = typeof raw?.message === 'string' ? raw.message : String(e.error);
  return { source: e.sourceId, status, error: new ApiError(url, status, null, message) };
}
