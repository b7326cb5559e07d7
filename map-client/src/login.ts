// The sign-in screen: shown instead of the map until a session exists.
//
// A form (username, password, sign-in button) over the map, with its own
// language switch. Messages: wrong credentials, too many attempts (with the
// wait from Retry-After; the button stays disabled until then),
// other failures, and the reason the form is back (session expired, signed
// out). The session cookie is set by the server; this module only sees the
// session JSON.

import { ApiError, PROBLEM, signIn, type Session } from './api';
import { el, relabel, text } from './dom';
import { formatWait, onLangChange, t, tf, type MessageKey } from './i18n';
import { langSwitch } from './ui';

/** Why the form is shown, if not simply because nobody is signed in. */
export type LoginReason =
  | { kind: 'expired' }
  /** The server ended the session (signed out in another tab, revoked, role or area changed). */
  | { kind: 'ended' }
  | { kind: 'signedOut' }
  /** `GET /api/v1/session` failed for another reason than 401. */
  | { kind: 'checkFailed'; error: unknown };

export interface LoginScreen {
  /** Shows the screen with the form disabled while `GET /api/v1/session` is under way. */
  checking(): void;
  /** Shows the form (focus on the username) and resolves with the session once signed in. */
  prompt(reason?: LoginReason): Promise<Session>;
  /** Hides the screen (signed in). */
  hide(): void;
}

/** A message on the form: what it says is worked out at render time, so it follows language switches. */
type Message =
  | { kind: 'missing' | 'invalid' | 'expired' | 'ended' | 'signed-out' | 'checking'; tone: 'error' | 'info' }
  | { kind: 'too-many'; tone: 'error'; until: number | null }
  | { kind: 'failed' | 'check-failed'; tone: 'error'; error: unknown };

const SIMPLE: Record<'missing' | 'invalid' | 'expired' | 'ended' | 'signed-out' | 'checking', MessageKey> = {
  missing: 'login.missing',
  invalid: 'login.invalid',
  expired: 'login.expired',
  ended: 'login.ended',
  'signed-out': 'login.signedOut',
  checking: 'login.checking',
};

/** "登录失败 (500): detail", or "登录失败: 无法连接服务器" when the server could not be reached. */
function describeFailure(prefix: MessageKey, err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === null) return `${t(prefix)}: ${t('error.network')}`;
    return `${t(prefix)} (${err.status}): ${err.message}`;
  }
  return `${t(prefix)}: ${err instanceof Error ? err.message : String(err)}`;
}

function isTooManyAttempts(err: unknown): err is ApiError {
  return err instanceof ApiError && (err.status === 429 || err.problem?.type === PROBLEM.tooManyAttempts);
}

function isInvalidCredentials(err: unknown): boolean {
  return err instanceof ApiError && (err.problem?.type === PROBLEM.invalidCredentials || err.status === 401);
}

export function createLoginScreen(parent: HTMLElement): LoginScreen {
  const username = el('input', {
    type: 'text',
    id: 'login-username',
    name: 'username',
    autocomplete: 'username',
    autocapitalize: 'none',
    spellcheck: 'false',
    required: '',
  });
  const password = el('input', {
    type: 'password',
    id: 'login-password',
    name: 'password',
    autocomplete: 'current-password',
    required: '',
  });
  const message = el('p', { class: 'login-message', id: 'login-message', role: 'status' });
  message.hidden = true;
  const submitLabel = text('span', 'login.submit');
  const submit = el('button', { type: 'submit', id: 'login-submit', class: 'login-submit' }, submitLabel);
  const form = el(
    'form',
    { class: 'login-form', id: 'login-form', novalidate: '', 'aria-labelledby': 'login-heading' },
    text('h2', 'login.title', { id: 'login-heading' }),
    el('div', { class: 'login-field' }, text('label', 'login.username', { for: 'login-username' }), username),
    el('div', { class: 'login-field' }, text('label', 'login.password', { for: 'login-password' }), password),
    message,
    submit,
  );
  const screen = el(
    'div',
    { class: 'login-screen', id: 'login-screen' },
    el(
      'section',
      { class: 'login-card' },
      el(
        'header',
        { class: 'login-header' },
        el('div', { class: 'titles' }, text('h1', 'app.title'), text('p', 'app.subtitle', { class: 'subtitle' })),
        langSwitch('login-lang-switch'),
      ),
      form,
    ),
  );
  screen.hidden = true;
  parent.append(screen);

  let current: Message | null = null;
  let unblock = 0;
  let busy = false;
  let pending: ((session: Session) => void) | null = null;

  const blocked = (): boolean => current?.kind === 'too-many' && current.until !== null && current.until > Date.now();

  const updateSubmit = (): void => {
    submit.disabled = busy || blocked() || pending === null;
    const key: MessageKey = busy ? 'login.submitting' : 'login.submit';
    submitLabel.dataset['i18n'] = key;
    submitLabel.textContent = t(key);
  };

  const renderMessage = (): void => {
    if (!current) {
      message.hidden = true;
      message.textContent = '';
      delete message.dataset['kind'];
      return;
    }
    let body: string;
    switch (current.kind) {
      case 'too-many':
        body =
          current.until === null
            ? t('login.tooManyLater')
            : tf('login.tooMany', { wait: formatWait((current.until - Date.now()) / 1000) });
        break;
      case 'failed':
        body = describeFailure('login.failed', current.error);
        break;
      case 'check-failed':
        body = describeFailure('login.checkFailed', current.error);
        break;
      default:
        body = t(SIMPLE[current.kind]);
    }
    message.textContent = body;
    message.dataset['kind'] = current.kind;
    message.dataset['tone'] = current.tone;
    message.setAttribute('role', current.tone === 'error' ? 'alert' : 'status');
    message.hidden = false;
  };

  // The wait is stated once (announcing a ticking count would be noise); when
  // it is over the message goes and the button is enabled again.
  const show = (m: Message | null): void => {
    window.clearTimeout(unblock);
    current = m;
    renderMessage();
    if (m?.kind === 'too-many' && m.until !== null) {
      unblock = window.setTimeout(() => show(null), Math.max(0, m.until - Date.now()));
    }
    updateSubmit();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy || blocked() || !pending) return;
    const name = username.value.trim();
    if (!name || !password.value) {
      show({ kind: 'missing', tone: 'error' });
      (name ? password : username).focus();
      return;
    }
    busy = true;
    form.setAttribute('aria-busy', 'true');
    updateSubmit();
    signIn(name, password.value)
      .then((session) => {
        password.value = '';
        show(null);
        const resolve = pending;
        pending = null;
        resolve?.(session);
      })
      .catch((err: unknown) => {
        if (isTooManyAttempts(err)) {
          show({ kind: 'too-many', tone: 'error', until: err.retryAfter === null ? null : Date.now() + err.retryAfter * 1000 });
        } else if (isInvalidCredentials(err)) {
          show({ kind: 'invalid', tone: 'error' });
        } else {
          show({ kind: 'failed', tone: 'error', error: err });
        }
        password.value = '';
        password.focus();
      })
      .finally(() => {
        busy = false;
        form.removeAttribute('aria-busy');
        updateSubmit();
      });
  });

  onLangChange(() => {
    relabel(screen);
    renderMessage();
  });

  return {
    checking() {
      pending = null;
      screen.hidden = false;
      show({ kind: 'checking', tone: 'info' });
    },
    prompt(reason) {
      return new Promise<Session>((resolve) => {
        pending = resolve;
        password.value = '';
        screen.hidden = false;
        if (!reason) show(null);
        else if (reason.kind === 'expired') show({ kind: 'expired', tone: 'error' });
        else if (reason.kind === 'ended') show({ kind: 'ended', tone: 'error' });
        else if (reason.kind === 'signedOut') show({ kind: 'signed-out', tone: 'info' });
        else show({ kind: 'check-failed', tone: 'error', error: reason.error });
        username.focus();
        username.select();
      });
    },
    hide() {
      pending = null;
      show(null);
      screen.hidden = true;
    },
  };
}
