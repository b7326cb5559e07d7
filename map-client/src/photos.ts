// Photos of a case (随手拍), shared by the report form, the case details and
// the resolve dialog:
//
//   POST /api/v1/incidents/{id}/photos?stage=report|resolution[&keep_location=true]
//     body: the image bytes (JPEG, PNG or HEIC; the server reads the format
//     from the bytes) → the photo (201; 200 when the same bytes were sent before)
//   GET  /api/v1/incidents/{id} → …, photos: [{id, stage, url, thumbnail_url, …}]
//
// - the picker (`createPhotoPicker`): a file input (no `capture`, so a phone
//   offers its camera or its gallery), previews with a remove button, and
//   "keep the photo's location" (off: the server strips GPS and the like).
//   It refuses before anything is sent what the server would refuse for
//   sure: more than nine photos to a case, a file over 10 MiB, one not
//   declared a JPEG, PNG or HEIC. What only the bytes tell (a text file
//   named .png, a damaged image) is the server's to refuse, and is explained
//   from its answer.
// - `uploadAll`: one photo after the other, each failure kept with the
//   photo's name and why. A retry sends the same bytes, which the server
//   answers with the photo it already has, so nothing is doubled.
// - the details' 照片 section (`createPhotoSection`): thumbnails labelled by
//   stage, a HEIC (no thumbnail: browsers other than Safari cannot draw it)
//   as a tile linking to the original, the full photo in an in-page viewer
//   (Esc closes), and 添加照片 for the roles that may add to a case not yet
//   finished. Thumbnails are kept across the refreshes of the details: each
//   read of a photo is audited, so an <img> is made once per photo shown.

import {
  ApiError,
  MAX_PHOTOS_PER_CASE,
  MAX_PHOTO_BYTES,
  isUnauthenticated,
  uploadPhoto,
  type IncidentDetail,
  type Photo,
  type PhotoStage,
} from './api';
import { ask } from './dialog';
import { el, relabel, text } from './dom';
import { formatApiTime, formatNumber, onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';

/** What the file input offers (HEIF: what some phones call HEIC). */
export const PHOTO_ACCEPT = 'image/jpeg,image/png,image/heic,image/heif';
const PHOTO_TYPES = new Set(['image/jpeg', 'image/png', 'image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence']);
/** A file without a declared type (HEIC on some systems) is taken by its name. */
const PHOTO_NAMES = /\.(jpe?g|png|hei[cf])$/i;

/** Roles the server takes photos from. */
export const PHOTOGRAPHERS = new Set(['operator', 'dispatcher', 'worker']);
/** A finished case: the server adds nothing more to it. */
const FINISHED = new Set(['closed', 'rejected', 'duplicate']);

/** Whether `role` may add photos to the case `detail`. */
export function mayAddPhotos(role: string | null, detail: IncidentDetail | null): boolean {
  return !!detail && PHOTOGRAPHERS.has(role ?? '') && !FINISHED.has(detail.status);
}

/** How many more photos case `detail` takes. */
export function photoRoom(detail: IncidentDetail | null): number {
  return Math.max(0, MAX_PHOTOS_PER_CASE - (detail?.photos?.length ?? 0));
}

const isHeic = (type: string, name = ''): boolean => /hei[cf]/i.test(type) || /\.hei[cf]$/i.test(name);

/** Why a file is refused before it is sent (null: it may be sent). */
function refusal(file: File): MessageKey | null {
  const declared = file.type && file.type !== 'application/octet-stream';
  if (declared ? !PHOTO_TYPES.has(file.type.toLowerCase()) : !PHOTO_NAMES.test(file.name)) return 'photos.refused.type';
  if (file.size > MAX_PHOTO_BYTES) return 'photos.refused.size';
  if (file.size === 0) return 'photos.refused.empty';
  return null;
}

export function stageName(stage: string): string {
  return tDynamic(`photos.stage.${stage}`, stage);
}

/** Who added a photo: the user's name (`user:NAME` as stored). */
function uploader(photo: Photo): string {
  return photo.uploaded_by.replace(/^user:/, '');
}

type Line = { key: MessageKey; params: Record<string, string> };

// ---------------------------------------------------------------- picker

export interface PhotoPicker {
  readonly root: HTMLElement;
  /** The photos chosen, in order. */
  files(): File[];
  keepLocation(): boolean;
  /** How many photos the case still takes (the picker refuses more). */
  setRoom(room: number): void;
  /** Nothing chosen, location off, no message. */
  clear(): void;
  /** Cleared, and no longer told of language switches (a dialog's picker, once answered). */
  destroy(): void;
}

/** A photo picker; its elements' ids start with `id` (`${id}-input`, `${id}-list`, `${id}-keep`, `${id}-message`). */
export function createPhotoPicker(id: string, room: number = MAX_PHOTOS_PER_CASE): PhotoPicker {
  let chosen: { file: File; preview: string | null }[] = [];
  let refused: Line[] = [];

  const input = el('input', { type: 'file', id: `${id}-input`, class: 'visually-hidden', accept: PHOTO_ACCEPT, multiple: '' });
  const chooseLabel = text('span', 'photos.choose');
  const choose = el('label', { class: 'photo-choose', for: `${id}-input` }, chooseLabel, input);
  const count = el('span', { class: 'photo-count', id: `${id}-count` });
  const list = el('ul', { class: 'photo-previews', id: `${id}-list` });
  const keep = el('input', { type: 'checkbox', id: `${id}-keep` });
  const keepLabel = el(
    'label',
    { class: 'photo-keep' },
    keep,
    el('span', {}, text('span', 'photos.keepLocation'), ' ', text('span', 'photos.keepLocation.hint', { class: 'photo-keep-hint' })),
  );
  const message = el('p', { class: 'photo-message', id: `${id}-message`, role: 'status', 'aria-live': 'polite', hidden: '' });
  const root = el(
    'div',
    { class: 'photo-picker', id },
    el('div', { class: 'photo-picker-head' }, text('span', 'photos.title', { class: 'report-label' }), count),
    list,
    el('div', { class: 'photo-picker-row' }, choose, keepLabel),
    message,
  );

  const render = (): void => {
    root.dataset['count'] = String(chosen.length);
    count.textContent = tf('photos.chosen', { n: formatNumber(chosen.length), max: formatNumber(Math.max(0, room - chosen.length)) });
    input.disabled = chosen.length >= room;
    choose.dataset['disabled'] = String(input.disabled);
    list.replaceChildren(
      ...chosen.map((c) => {
        const name = c.file.name || 'photo';
        const remove = el('button', { type: 'button', class: 'photo-remove', 'aria-label': tf('photos.remove', { name }), title: tf('photos.remove', { name }) }, '×');
        remove.addEventListener('click', () => {
          if (c.preview) URL.revokeObjectURL(c.preview);
          chosen = chosen.filter((x) => x !== c);
          refused = [];
          render();
        });
        const picture = c.preview
          ? el('img', { src: c.preview, alt: name })
          : el('span', { class: 'photo-heic', title: name }, 'HEIC');
        return el('li', { class: 'photo-preview', 'data-name': name }, picture, remove);
      }),
    );
    message.hidden = refused.length === 0;
    message.dataset['kind'] = refused.length ? 'error' : '';
    message.textContent = refused.map((l) => tf(l.key, l.params)).join('\n');
  };

  const take = (files: readonly File[]): void => {
    refused = [];
    for (const file of files) {
      const name = file.name || 'photo';
      const why = refusal(file);
      if (why) {
        refused.push({ key: why, params: { name } });
        continue;
      }
      // the same file picked twice is one photo (the server would answer it once anyway)
      if (chosen.some((c) => c.file.name === file.name && c.file.size === file.size && c.file.lastModified === file.lastModified)) continue;
      if (chosen.length >= room) {
        refused.push({ key: 'photos.refused.count', params: { name, max: formatNumber(MAX_PHOTOS_PER_CASE) } });
        continue;
      }
      chosen.push({ file, preview: isHeic(file.type, file.name) ? null : URL.createObjectURL(file) });
    }
    render();
  };

  input.addEventListener('change', () => {
    take(Array.from(input.files ?? []));
    // the same file may be chosen again after it was removed
    input.value = '';
  });

  const clear = (): void => {
    for (const c of chosen) if (c.preview) URL.revokeObjectURL(c.preview);
    chosen = [];
    refused = [];
    keep.checked = false;
    input.value = '';
    render();
  };

  const unsubscribe = onLangChange(() => {
    relabel(root);
    render();
  });
  render();

  return {
    root,
    files: () => chosen.map((c) => c.file),
    keepLocation: () => keep.checked,
    setRoom(next) {
      room = Math.max(0, next);
      render();
    },
    clear,
    destroy() {
      clear();
      unsubscribe();
    },
  };
}

// ---------------------------------------------------------------- uploads

/** Photos chosen for a case, to send once it exists (a report) or now. */
export interface PhotoBatch {
  files: File[];
  stage: PhotoStage;
  keepLocation: boolean;
}

export interface UploadFailure {
  name: string;
  error: unknown;
}

export interface UploadResult {
  photos: Photo[];
  failures: UploadFailure[];
  /** The session is gone (a 401): the rest were not sent. */
  unauthenticated: ApiError | null;
}

/** Sends the photos of `batch` to case `id` one after the other; `progress(i, n)` before each. */
export async function uploadAll(id: number | string, batch: PhotoBatch, progress: (i: number, n: number) => void = () => {}): Promise<UploadResult> {
  const result: UploadResult = { photos: [], failures: [], unauthenticated: null };
  const n = batch.files.length;
  for (const [i, file] of batch.files.entries()) {
    progress(i + 1, n);
    try {
      result.photos.push(await uploadPhoto(id, file, batch.stage, batch.keepLocation));
    } catch (error) {
      if (isUnauthenticated(error)) {
        result.unauthenticated = error;
        break;
      }
      result.failures.push({ name: file.name || 'photo', error });
    }
  }
  return result;
}

/** Which photo failed and why, in words (the server's limits by name, its detail otherwise). */
export function failureText(failure: UploadFailure): string {
  const err = failure.error;
  let why: string;
  if (!(err instanceof ApiError)) why = err instanceof Error ? err.message : String(err);
  else if (err.status === null) why = t('error.network');
  else if (err.status === 413) why = t('photos.why.size');
  else if (err.status === 415) why = t('photos.why.type');
  else if (err.status === 422) why = tf('photos.why.damaged', { detail: err.message });
  else why = `${err.message} (${err.status})`;
  return tf('photos.failed', { name: failure.name, why });
}

// ---------------------------------------------------------------- viewer

interface Viewer {
  dialog: HTMLDialogElement;
  img: HTMLImageElement;
  caption: HTMLElement;
  original: HTMLAnchorElement;
  prev: HTMLButtonElement;
  next: HTMLButtonElement;
  photos: Photo[];
  at: number;
}

let viewer: Viewer | null = null;

function viewerElements(): Viewer {
  if (viewer) return viewer;
  const img = el('img', { id: 'photo-viewer-img', class: 'photo-viewer-img', alt: '' });
  const caption = el('figcaption', { id: 'photo-viewer-caption', class: 'photo-viewer-caption' });
  const original = el('a', { id: 'photo-viewer-original', class: 'photo-viewer-original', target: '_blank', rel: 'noopener', 'data-i18n': 'photos.viewer.original' });
  original.textContent = t('photos.viewer.original');
  const prev = el('button', { type: 'button', id: 'photo-viewer-prev', class: 'photo-viewer-step', 'data-i18n-title': 'photos.viewer.prev' }, '‹');
  const next = el('button', { type: 'button', id: 'photo-viewer-next', class: 'photo-viewer-step', 'data-i18n-title': 'photos.viewer.next' }, '›');
  const close = el('button', { type: 'button', id: 'photo-viewer-close', class: 'photo-viewer-close', 'data-i18n-title': 'photos.viewer.close' }, '×');
  const dialog = el(
    'dialog',
    { class: 'photo-viewer', id: 'photo-viewer', 'aria-labelledby': 'photo-viewer-caption' },
    el('figure', { class: 'photo-viewer-figure' }, img, caption),
    el('div', { class: 'photo-viewer-bar' }, prev, next, original, close),
  );
  relabel(dialog);
  document.body.append(dialog);
  const v: Viewer = { dialog, img, caption, original, prev, next, photos: [], at: 0 };
  viewer = v;
  close.addEventListener('click', () => closeViewer());
  prev.addEventListener('click', () => step(-1));
  next.addEventListener('click', () => step(1));
  // a click on the backdrop (outside the figure and the bar) closes it too
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) closeViewer();
  });
  dialog.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft') step(-1);
    else if (e.key === 'ArrowRight') step(1);
  });
  // Esc: the dialog's own cancel; the photo is let go with it
  dialog.addEventListener('close', () => {
    v.img.removeAttribute('src');
    delete v.dialog.dataset['id'];
  });
  onLangChange(() => {
    relabel(dialog);
    if (dialog.open) showAt(v.at);
  });
  return v;
}

function showAt(at: number): void {
  const v = viewerElements();
  const photo = v.photos[at];
  if (!photo) return;
  v.at = at;
  v.dialog.dataset['id'] = String(photo.id);
  v.img.src = photo.url;
  v.img.alt = tf('photos.open', { n: String(at + 1), stage: stageName(photo.stage) });
  v.caption.textContent = tf('photos.caption', { stage: stageName(photo.stage), who: uploader(photo), at: formatApiTime(photo.uploaded_at) });
  v.original.href = photo.url;
  v.prev.hidden = v.photos.length < 2;
  v.next.hidden = v.photos.length < 2;
}

function step(by: number): void {
  const v = viewerElements();
  if (!v.dialog.open || v.photos.length < 2) return;
  showAt((v.at + by + v.photos.length) % v.photos.length);
}

/** Shows `photo` full size among `photos` (those the browser can draw). */
export function openViewer(photos: Photo[], photo: Photo): void {
  const v = viewerElements();
  v.photos = photos;
  showAt(Math.max(0, photos.findIndex((p) => p.id === photo.id)));
  if (!v.dialog.open) v.dialog.showModal();
}

export function closeViewer(): void {
  if (viewer?.dialog.open) viewer.dialog.close();
}

// ---------------------------------------------------------------- the details' section

export interface PhotoSectionOptions {
  /** Photos were added to case `id`: its details (and the list) are fetched again. */
  onAdded(id: number | string): void;
  /** A failure the section does not explain itself (401s: the caller decides). */
  onError(what: MessageKey, err: unknown): void;
}

export interface PhotoSection {
  readonly root: HTMLElement;
  setRole(role: string | null): void;
  /** The case whose details are shown (null: none). */
  show(detail: IncidentDetail | null): void;
  /** Sends `batch` to case `id` (the photos of a report just filed), showing how it goes while that case is shown. */
  upload(id: number | string, batch: PhotoBatch): Promise<void>;
  /** Back to nothing (sign-out). */
  reset(): void;
}

/** A line of the section's message: words, or a photo that failed (put into words when shown, in the language then). */
type Part = Line | { failure: UploadFailure };
type Note = { id: string; parts: Part[]; kind: 'hint' | 'ok' | 'error' };

const partText = (part: Part): string => ('failure' in part ? failureText(part.failure) : tf(part.key, part.params));

export function createPhotoSection(options: PhotoSectionOptions): PhotoSection {
  const count = el('span', { class: 'photo-count', id: 'case-photos-count' });
  const grid = el('ul', { class: 'photo-grid', id: 'case-photo-list' });
  const empty = text('p', 'photos.empty', { class: 'photo-empty', id: 'case-photos-empty' });
  const add = text('button', 'photos.add', { type: 'button', id: 'case-photo-add', class: 'photo-add' });
  const message = el('p', { class: 'photo-message', id: 'case-photo-message', role: 'status', 'aria-live': 'polite', hidden: '' });
  const root = el(
    'section',
    { class: 'case-photos', id: 'case-photos', 'aria-labelledby': 'case-photos-heading', hidden: '' },
    el('h4', {}, text('span', 'photos.title', { id: 'case-photos-heading' }), ' ', count),
    grid,
    empty,
    add,
    message,
  );

  let role: string | null = null;
  let shown: IncidentDetail | null = null;
  let note: Note | null = null;
  /** Uploads under way, per case. */
  const busy = new Set<string>();
  /** The <img> of each thumbnail shown, kept while its photo is listed (each read is audited). */
  let thumbnails = new Map<number, HTMLImageElement>();

  const thumbnail = (photo: Photo, src: string): HTMLImageElement => {
    let img = thumbnails.get(photo.id);
    if (!img || img.getAttribute('src') !== src) {
      img = el('img', { class: 'photo-thumb', src, alt: '', decoding: 'async' });
    }
    return img;
  };

  const renderMessage = (): void => {
    if (!note || !shown || note.id !== String(shown.id)) {
      message.hidden = true;
      message.textContent = '';
      delete message.dataset['kind'];
      return;
    }
    message.hidden = false;
    message.dataset['kind'] = note.kind;
    message.textContent = note.parts.map(partText).join('\n');
  };
  const setNote = (id: number | string, kind: Note['kind'], parts: Part[]): void => {
    note = { id: String(id), kind, parts };
    renderMessage();
  };

  const render = (): void => {
    const d = shown;
    const photos = d?.photos ?? [];
    const allowed = mayAddPhotos(role, d);
    root.hidden = !d || (photos.length === 0 && !allowed);
    root.dataset['count'] = String(photos.length);
    if (d) root.dataset['id'] = String(d.id);
    else delete root.dataset['id'];
    count.textContent = photos.length ? `(${formatNumber(photos.length)}/${formatNumber(MAX_PHOTOS_PER_CASE)})` : '';
    empty.hidden = photos.length > 0;
    add.hidden = !allowed;
    add.disabled = !d || busy.has(String(d.id)) || photoRoom(d) === 0;
    add.title = d && photoRoom(d) === 0 ? tf('photos.full', { max: formatNumber(MAX_PHOTOS_PER_CASE) }) : '';
    // the viewer steps through those the browser can draw
    const viewable = photos.filter((p) => !isHeic(p.content_type));
    const kept = new Map<number, HTMLImageElement>();
    grid.replaceChildren(
      ...photos.map((photo, i) => {
        const stage = stageName(photo.stage);
        const label = tf('photos.open', { n: String(i + 1), stage });
        const tile = el('li', { class: 'photo-tile', 'data-id': String(photo.id), 'data-stage': photo.stage, 'data-type': photo.content_type });
        let open: HTMLElement;
        if (photo.thumbnail_url && !isHeic(photo.content_type)) {
          const img = thumbnail(photo, photo.thumbnail_url);
          img.alt = label;
          kept.set(photo.id, img);
          open = el('button', { type: 'button', class: 'photo-open', title: label }, img);
          open.addEventListener('click', () => openViewer(viewable, photo));
        } else {
          // HEIC: no thumbnail, and most browsers cannot draw it: the original, to download or open
          open = el(
            'a',
            { class: 'photo-open photo-heic', href: photo.url, target: '_blank', rel: 'noopener', title: t('photos.heic.hint'), 'aria-label': `${label} HEIC` },
            el('span', {}, 'HEIC'),
          );
        }
        tile.append(open, el('span', { class: 'photo-stage', 'data-stage': photo.stage }, stage));
        return tile;
      }),
    );
    thumbnails = kept;
  };

  /** Sends `batch` to case `id`, telling how it goes; the case is fetched again if any photo went in. */
  const upload = async (id: number | string, batch: PhotoBatch): Promise<void> => {
    if (batch.files.length === 0) return;
    const key = String(id);
    busy.add(key);
    render();
    try {
      const result = await uploadAll(id, batch, (i, n) => setNote(id, 'hint', [{ key: 'photos.uploading', params: { i: String(i), n: String(n) } }]));
      if (result.failures.length || result.unauthenticated) {
        const parts: Part[] = result.failures.map((failure) => ({ failure }));
        if (result.photos.length) parts.push({ key: 'photos.uploaded', params: { n: formatNumber(result.photos.length) } });
        if (result.failures.length) parts.push({ key: 'photos.retry', params: {} });
        setNote(id, 'error', parts);
        if (result.unauthenticated) options.onError('photos.title', result.unauthenticated);
      } else {
        setNote(id, 'ok', [{ key: 'photos.uploaded', params: { n: formatNumber(result.photos.length) } }]);
      }
      if (result.photos.length) options.onAdded(id);
    } finally {
      busy.delete(key);
      render();
    }
  };

  add.addEventListener('click', () => {
    const d = shown;
    if (!d || !mayAddPhotos(role, d)) return;
    const picker = createPhotoPicker('case-photo-picker', photoRoom(d));
    void ask({
      message: tf('photos.add.ask', { id: `#${d.id}` }),
      confirm: t('photos.add.confirm'),
      extra: [picker.root],
      check: () => (picker.files().length ? null : t('photos.add.none')),
    }).then((answer) => {
      const batch: PhotoBatch = {
        files: picker.files(),
        keepLocation: picker.keepLocation(),
        // a resolved case's photos show how it was resolved; before that, what was reported
        stage: d.status === 'resolved' ? 'resolution' : 'report',
      };
      picker.destroy();
      if (answer !== null) void upload(d.id, batch);
    });
  });

  onLangChange(() => {
    relabel(root);
    render();
    renderMessage();
  });

  return {
    root,
    setRole(next) {
      role = next;
      render();
    },
    show(detail) {
      if (!detail || !shown || String(detail.id) !== String(shown.id)) closeViewer();
      shown = detail;
      render();
      renderMessage();
    },
    upload,
    reset() {
      closeViewer();
      role = null;
      shown = null;
      note = null;
      busy.clear();
      thumbnails = new Map();
      render();
      renderMessage();
    },
  };
}
