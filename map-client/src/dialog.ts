// In-page dialogs (not window.confirm / prompt, which block the page and are
// awkward to test): a question to confirm, or a line of text to give (a note,
// a leader's name, a case number), with more of the form if need be (photos to
// attach). One at a time; Escape or 取消 answers null.

import { el } from './dom';
import { t } from './i18n';

export interface AskOptions {
  /** The question or what to give. */
  message: string;
  /** The confirm button's label (default 确定). */
  confirm?: string;
  /** Ask for a line of text (a label for it); without it, only a confirmation. */
  input?: { label: string; required?: boolean; multiline?: boolean; value?: string; inputmode?: string };
  /** A button shown in red (irreversible). */
  danger?: boolean;
  /** More of the form, after the input (photos to attach: photos.ts). */
  extra?: HTMLElement[];
  /** Checked on OK: a message keeps the dialog open and is shown (what is missing). */
  check?: () => string | null;
}

let open: { dialog: HTMLDialogElement; finish(value: string | null): void } | null = null;

/** Asks; resolves with the text given ('' for a plain confirmation), or null when cancelled. */
export function ask(options: AskOptions): Promise<string | null> {
  open?.finish(null);
  return new Promise((resolve) => {
    const dialog = el('dialog', { class: 'app-dialog', id: 'app-dialog', 'aria-labelledby': 'app-dialog-message' });
    const form = el('form', { method: 'dialog', class: 'app-dialog-form' });
    const message = el('p', { class: 'app-dialog-message', id: 'app-dialog-message' }, options.message);
    form.append(message);
    let input: HTMLInputElement | HTMLTextAreaElement | null = null;
    const error = el('p', { class: 'app-dialog-error', role: 'alert', hidden: '' });
    if (options.input) {
      input = options.input.multiline
        ? el('textarea', { id: 'app-dialog-input', name: 'value', rows: '3', maxlength: '2000' })
        : el('input', { id: 'app-dialog-input', name: 'value', type: 'text', autocomplete: 'off', maxlength: '200' });
      if (options.input.inputmode) input.setAttribute('inputmode', options.input.inputmode);
      input.value = options.input.value ?? '';
      form.append(el('label', { class: 'app-dialog-field' }, el('span', {}, options.input.label), input));
    }
    if (options.extra) form.append(...options.extra);
    form.append(error);
    const cancel = el('button', { type: 'button', class: 'app-dialog-cancel', id: 'app-dialog-cancel' }, t('dialog.cancel'));
    const ok = el(
      'button',
      { type: 'submit', class: `app-dialog-ok${options.danger ? ' danger' : ''}`, id: 'app-dialog-ok' },
      options.confirm ?? t('dialog.ok'),
    );
    form.append(el('div', { class: 'app-dialog-buttons' }, cancel, ok));
    dialog.append(form);
    document.body.append(dialog);

    let done = false;
    const finish = (value: string | null): void => {
      if (done) return;
      done = true;
      if (open?.dialog === dialog) open = null;
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(value);
    };
    open = { dialog, finish };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const value = input ? input.value.trim() : '';
      if (input && options.input?.required && !value) {
        error.textContent = t('dialog.required');
        error.hidden = false;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      const problem = options.check?.() ?? null;
      if (problem) {
        error.textContent = problem;
        error.hidden = false;
        return;
      }
      finish(value);
    });
    cancel.addEventListener('click', () => finish(null));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      finish(null);
    });
    dialog.showModal();
    (input ?? ok).focus();
  });
}

/** Yes or no. */
export async function confirmAction(message: string, confirm?: string): Promise<boolean> {
  return (await ask({ message, danger: true, ...(confirm ? { confirm } : {}) })) !== null;
}
