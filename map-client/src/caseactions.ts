// The "办理 / Actions" section of the incident details: a button for each
// action the server lists in the case's `actions` (and no other: the rules of
// the lifecycle are the server's), except `assign`, which the dispatch
// section does with its ranking.
//
//   POST /api/v1/incidents/{id}/actions  {action, note?, of?, leader?, location?, from?}
//     → the case as it is after it; 409 /problems/conflict when it moved
//
// Actions needing a note (reopen, reject, decline, note) ask for one, and
// those that cannot be undone (close, reject, mark_duplicate, resolve) ask for
// confirmation, both in an in-page dialog (dialog.ts). mark_duplicate asks
// for the other case: clicked on the map or in the list, or its number typed;
// place asks for a click on the map; lead for the leader's name; escalate
// sends the tier shown (`from`), so a case the deadline escalated meanwhile
// is a conflict, not a second step up. A 409 shows the problem's detail and
// the case is fetched again as it is now (`onChanged`).
//
// resolve may carry photos of the resolution (photos.ts): they are uploaded
// first (stage=resolution), and the case is resolved only once every one of
// them is in, so a resolution never goes without a photo the user attached.
// A failed upload says which photo and why, and the case stays as it was.

import { ApiError, actOnIncident, isUnauthenticated, type ActionRequest, type IncidentDetail } from './api';
import { ask } from './dialog';
import { el, relabel, text } from './dom';
import { onLangChange, t, tDynamic, tf, type MessageKey } from './i18n';
import type { IncidentId } from './incidents';
import { createPhotoPicker, failureText, photoRoom, uploadAll } from './photos';
import { cancelPick, startPick, type Pick } from './picker';

/** Actions this section leaves to another (assign: the dispatch section). */
const ELSEWHERE = new Set(['assign']);
/** Actions that need a note. */
const NEEDS_NOTE = new Set(['reopen', 'reject', 'decline', 'note']);
/** Actions that cannot be undone: confirmed first. */
const IRREVERSIBLE = new Set(['close', 'reject', 'mark_duplicate', 'resolve']);

export interface CaseActionsOptions {
  /**
   * The case changed (an action went through: `detail` is the case now), or may have (a
   * conflict: null, fetch it again). The panel shows it, the list is fetched again.
   */
  onChanged(id: IncidentId, detail: IncidentDetail | null): void;
  /** A failure the section does not explain itself (401s: the caller decides). */
  onError(what: MessageKey, err: unknown): void;
}

export interface CaseActions {
  readonly root: HTMLElement;
  /** The case whose details are shown (null: none). */
  show(detail: IncidentDetail | null): void;
  /** Back to nothing (sign-out). */
  reset(): void;
}

export function actionName(action: string): string {
  return tDynamic(`action.${action}`, action);
}

type Message = { key: MessageKey; params: Record<string, string>; kind: 'ok' | 'error' | 'conflict' | 'hint' };

export function createCaseActions(options: CaseActionsOptions): CaseActions {
  const buttons = el('div', { class: 'case-action-buttons', id: 'case-actions-buttons', role: 'group' });
  const message = el('p', { class: 'case-action-message', id: 'case-action-message', role: 'status', 'aria-live': 'polite', hidden: '' });
  // picking the other case of a duplicate: click it, or type its number
  const pickInput = el('input', { type: 'text', id: 'case-action-of', inputmode: 'numeric', autocomplete: 'off', maxlength: '20' });
  const pickOk = text('button', 'dialog.ok', { type: 'button', id: 'case-action-pick-ok', class: 'case-action' });
  const pickCancel = text('button', 'dialog.cancel', { type: 'button', id: 'case-action-pick-cancel', class: 'case-action' });
  const pickHint = el('p', { class: 'case-action-hint', id: 'case-action-pick-hint' });
  const pickRow = el('div', { class: 'case-action-of-row', hidden: '' }, pickInput, pickOk);
  const pickBox = el('div', { class: 'case-action-pick', id: 'case-action-pick', hidden: '' }, pickHint, pickRow, pickCancel);
  const root = el(
    'section',
    { class: 'case-actions', id: 'case-actions', 'aria-labelledby': 'case-actions-heading', hidden: '' },
    text('h4', 'actions.title', { id: 'case-actions-heading' }),
    buttons,
    pickBox,
    message,
  );

  let shown: IncidentDetail | null = null;
  let drawn = '';
  let busy = false;
  let note: { id: string; message: Message } | null = null;
  let picking: { kind: 'duplicate' | 'place'; pick: Pick } | null = null;

  const renderMessage = (): void => {
    if (!note || !shown || note.id !== String(shown.id)) {
      message.hidden = true;
      message.textContent = '';
      delete message.dataset['kind'];
      return;
    }
    message.hidden = false;
    message.dataset['kind'] = note.message.kind;
    message.textContent = tf(note.message.key, note.message.params);
  };
  const setMessage = (id: IncidentId, key: MessageKey, kind: Message['kind'], params: Record<string, string> = {}): void => {
    note = { id: String(id), message: { key, params, kind } };
    renderMessage();
  };

  const renderButtons = (): void => {
    const actions = (shown?.actions ?? []).filter((a) => !ELSEWHERE.has(a));
    root.hidden = !shown || actions.length === 0;
    buttons.replaceChildren(
      ...actions.map((action) => {
        const button = el(
          'button',
          {
            type: 'button',
            class: `case-action${IRREVERSIBLE.has(action) ? ' irreversible' : ''}`,
            'data-action': action,
          },
          actionName(action),
        );
        button.disabled = busy;
        if (picking && ((picking.kind === 'duplicate' && action === 'mark_duplicate') || (picking.kind === 'place' && action === 'place'))) {
          button.setAttribute('aria-pressed', 'true');
        }
        button.addEventListener('click', () => void begin(action));
        return button;
      }),
    );
    buttons.setAttribute('aria-label', t('actions.title'));
  };

  const renderPick = (): void => {
    pickBox.hidden = picking === null;
    pickRow.hidden = picking?.kind !== 'duplicate';
    if (picking) pickHint.textContent = t(picking.kind === 'duplicate' ? 'actions.pick.duplicate' : 'actions.pick.place');
    pickInput.placeholder = t('actions.of.placeholder');
    pickInput.setAttribute('aria-label', t('actions.of.label'));
  };

  const stopPicking = (): void => {
    if (!picking) return;
    const p = picking.pick;
    picking = null;
    cancelPick(p);
    renderPick();
    renderButtons();
  };

  const setBusy = (value: boolean): void => {
    busy = value;
    root.dataset['busy'] = String(value);
    for (const b of buttons.querySelectorAll('button')) b.disabled = value;
    pickOk.disabled = value;
  };

  /** Sends `request` for the case shown; the answer or a conflict go to onChanged. */
  const send = async (detail: IncidentDetail, request: ActionRequest): Promise<void> => {
    const id = detail.id;
    setBusy(true);
    setMessage(id, 'actions.sending', 'hint', { action: actionName(request.action) });
    try {
      const answer = await actOnIncident(id, request);
      setMessage(id, 'actions.done', 'ok', { action: actionName(request.action) });
      options.onChanged(id, answer);
    } catch (err) {
      if (isUnauthenticated(err)) {
        note = null;
        renderMessage();
        options.onError('actions.title', err);
      } else if (err instanceof ApiError && err.status === 409) {
        setMessage(id, 'actions.conflict', 'conflict', { action: actionName(request.action), detail: err.problem?.detail ?? err.message });
        options.onChanged(id, null);
      } else {
        const detailText = err instanceof ApiError ? (err.status === null ? t('error.network') : err.message) : String(err);
        setMessage(id, 'actions.failed', 'error', { action: actionName(request.action), detail: detailText });
      }
    } finally {
      setBusy(false);
    }
  };

  const withNote = (request: ActionRequest, value: string | null): ActionRequest => (value ? { ...request, note: value } : request);

  /** Uploads the resolution's photos; true when every one is in (the case may then be resolved). */
  const uploadFirst = async (detail: IncidentDetail, files: File[], keepLocation: boolean): Promise<boolean> => {
    const id = detail.id;
    setBusy(true);
    try {
      const result = await uploadAll(id, { files, stage: 'resolution', keepLocation }, (i, n) =>
        setMessage(id, 'photos.uploading', 'hint', { i: String(i), n: String(n) }),
      );
      // the photos that went in are shown with the case
      if (result.photos.length) options.onChanged(id, null);
      if (result.unauthenticated) {
        note = null;
        renderMessage();
        options.onError('actions.title', result.unauthenticated);
        return false;
      }
      if (result.failures.length) {
        setMessage(id, 'actions.resolve.photoFailed', 'error', { detail: result.failures.map(failureText).join('；') });
        return false;
      }
      return true;
    } finally {
      setBusy(false);
    }
  };

  /** Asks what the action needs, then sends it. */
  const begin = async (action: string): Promise<void> => {
    const detail = shown;
    if (!detail || busy) return;
    stopPicking();
    const name = actionName(action);
    const caseLabel = `#${detail.id}`;
    switch (action) {
      case 'mark_duplicate': {
        startDuplicatePick(detail);
        return;
      }
      case 'place': {
        const pick: Pick = {
          kind: 'point',
          onPoint: (at) => {
            picking = null;
            renderPick();
            renderButtons();
            if (shown && String(shown.id) === String(detail.id)) void send(detail, { action, location: { lon: at[0], lat: at[1] } });
          },
          onCancel: () => {
            if (picking?.pick === pick) {
              picking = null;
              renderPick();
              renderButtons();
            }
          },
        };
        picking = { kind: 'place', pick };
        startPick(pick);
        renderPick();
        renderButtons();
        return;
      }
      case 'lead': {
        const leader = await ask({
          message: tf('actions.lead.ask', { id: caseLabel }),
          confirm: name,
          input: { label: t('actions.lead.label'), required: true },
        });
        if (leader) await send(detail, { action, leader });
        return;
      }
      case 'resolve': {
        const picker = createPhotoPicker('resolve-photos', photoRoom(detail));
        const value = await ask({
          message: `${tf('actions.confirm', { action: name, id: caseLabel })}\n${t('actions.resolve.photos')}`,
          confirm: name,
          danger: true,
          input: { label: t('actions.note.optional'), multiline: true },
          extra: [picker.root],
        });
        const files = picker.files();
        const keepLocation = picker.keepLocation();
        picker.destroy();
        if (value === null) return;
        if (files.length && !(await uploadFirst(detail, files, keepLocation))) return;
        await send(detail, withNote({ action }, value));
        return;
      }
      case 'escalate': {
        const value = await ask({
          message: tf('actions.escalate.ask', { id: caseLabel, tier: tDynamic(`tier.${detail.tier}`, detail.tier) }),
          confirm: name,
          input: { label: t('actions.note.optional'), multiline: true },
        });
        if (value !== null) await send(detail, withNote({ action, from: detail.tier }, value));
        return;
      }
      default: {
        if (NEEDS_NOTE.has(action)) {
          const value = await ask({
            message: tf(IRREVERSIBLE.has(action) ? 'actions.confirm.note' : 'actions.note.ask', { action: name, id: caseLabel }),
            confirm: name,
            danger: IRREVERSIBLE.has(action),
            input: { label: t('actions.note.label'), required: true, multiline: true },
          });
          if (value) await send(detail, { action, note: value });
          return;
        }
        if (IRREVERSIBLE.has(action)) {
          const value = await ask({
            message: tf('actions.confirm', { action: name, id: caseLabel }),
            confirm: name,
            danger: true,
            input: { label: t('actions.note.optional'), multiline: true },
          });
          if (value !== null) await send(detail, withNote({ action }, value));
          return;
        }
        await send(detail, { action });
      }
    }
  };

  /** The other case of a duplicate: clicked on the map or in the list, or typed; then confirmed. */
  const startDuplicatePick = (detail: IncidentDetail): void => {
    const chosen = async (other: IncidentId): Promise<void> => {
      const of = Number(other);
      if (!Number.isInteger(of) || of <= 0) {
        setMessage(detail.id, 'actions.of.invalid', 'error', { value: String(other) });
        return;
      }
      if (String(of) === String(detail.id)) {
        setMessage(detail.id, 'actions.of.self', 'error', {});
        return;
      }
      stopPicking();
      if (!shown || String(shown.id) !== String(detail.id)) return;
      const value = await ask({
        message: tf('actions.duplicate.confirm', { id: `#${detail.id}`, of: `#${of}` }),
        confirm: actionName('mark_duplicate'),
        danger: true,
        input: { label: t('actions.note.optional'), multiline: true },
      });
      if (value !== null) await send(detail, withNote({ action: 'mark_duplicate', of }, value));
    };
    const pick: Pick = {
      kind: 'incident',
      onIncident: (id) => {
        // the pick ends with the click; keep the box until confirmed
        picking = { kind: 'duplicate', pick };
        void chosen(id);
      },
      onCancel: () => {
        if (picking?.pick === pick) {
          picking = null;
          renderPick();
          renderButtons();
        }
      },
    };
    picking = { kind: 'duplicate', pick };
    pickInput.value = '';
    pickOk.onclick = () => void chosen(pickInput.value.trim().replace(/^#/, ''));
    pickInput.onkeydown = (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        void chosen(pickInput.value.trim().replace(/^#/, ''));
      }
    };
    startPick(pick);
    renderPick();
    renderButtons();
    pickInput.focus();
  };

  pickCancel.addEventListener('click', stopPicking);

  onLangChange(() => {
    relabel(root);
    renderButtons();
    renderPick();
    renderMessage();
  });

  return {
    root,
    show(detail) {
      const changedCase = !detail || !shown || String(detail.id) !== String(shown.id);
      if (changedCase) stopPicking();
      shown = detail;
      const key = detail ? `${detail.id}|${(detail.actions ?? []).join(',')}` : '';
      if (key !== drawn || changedCase) {
        drawn = key;
        renderButtons();
      }
      if (!detail) root.hidden = true;
      renderMessage();
    },
    reset() {
      stopPicking();
      shown = null;
      drawn = '';
      note = null;
      busy = false;
      renderButtons();
      renderMessage();
      root.hidden = true;
    },
  };
}
