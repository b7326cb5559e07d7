// The session's life: checked when the page opens, the sign-in form until
// there is one, its first load, its expiry, signing out, and its end when
// found gone. What a session shows and forgets is the caller's (hooks).
//
// Signed out: the sign-in screen covers the page and the map and panels are
// inert. Signed in: the panels show the user; the data is loaded. A 401 from
// any data call, or the session found gone when it was due to expire, brings
// the form back with "session expired".

import { fetchSession, isUnauthenticated, signOut, type Session } from './api';
import { describeError } from './errors';
import type { MessageKey } from './i18n';
import type { LoginReason, LoginScreen } from './login';

export type AuthState = 'checking' | 'signed-out' | 'signed-in';

export interface SessionHooks {
  login: LoginScreen;
  /** Who is signed in (again when the session is found renewed). */
  showSession(session: Session): void;
  /** A session begins: what depends on the role follows it. */
  onEnter(session: Session): void;
  /** A session is over: its data, tiles, live feed, panels, popup and errors are dropped. */
  onLeave(): void;
  onStateChange(state: AuthState): void;
  /** The session's first load; rejecting with a 401 means the session has gone already. */
  load(signal: AbortSignal): Promise<void>;
  showError(message: string): void;
}

export interface SessionControl {
  /** Asks the server for the session the page opens with, then signs in or loads. Once. */
  begin(): void;
  /**
   * Resolves once signed in and the first load is done. A new promise after
   * each sign-out or expiry (for the next sign-in).
   */
  readonly ready: Promise<void>;
  /** Pending while checked, then the session, or null when signed out. */
  readonly session: Promise<Session | null>;
  signedIn(): boolean;
  /** Aborted when the signed-in session ends: its data loads are abandoned. */
  signal(): AbortSignal | undefined;
  /** A failure after the first load: a 401 means the session is gone; others go to the banner. */
  lateError(what: MessageKey, err: unknown): void;
  /** The signed-in session is over (found expired, or ended by the server): back to the form. */
  end(reason: LoginReason): void;
  /** Something hints the session may be gone (the live feed cannot connect): asks the server. */
  recheck(): void;
  signOut(): Promise<void>;
}

/** Longest setTimeout delay is 2^31-1 ms; far expiries are checked again daily. */
const MAX_TIMER_MS = 24 * 3600 * 1000;

export function createSession(hooks: SessionHooks): SessionControl {
  const { login } = hooks;
  // (both replaced by begin(), which runs before anyone asks)
  let sessionState: Promise<Session | null> = new Promise(() => {});
  let ready: Promise<void> = new Promise(() => {});
  let current: AbortController | null = null;
  let authState: AuthState = 'checking';
  let expiryTimer = 0;

  function setAuthState(state: AuthState): void {
    authState = state;
    document.body.dataset['auth'] = state;
    hooks.onStateChange(state);
  }

  /** When the session is due to expire, asks the server whether it still holds (it may have been renewed). */
  function scheduleExpiryCheck(session: Session): void {
    window.clearTimeout(expiryTimer);
    const due = Date.parse(session.expires_at);
    if (Number.isNaN(due)) return;
    const delay = Math.min(Math.max(due - Date.now() + 1000, 0), MAX_TIMER_MS);
    expiryTimer = window.setTimeout(() => {
      fetchSession().then(
        (now) => {
          if (authState !== 'signed-in') return;
          if (now) {
            sessionState = Promise.resolve(now);
            hooks.showSession(now);
            scheduleExpiryCheck(now);
          } else {
            end({ kind: 'expired' });
          }
        },
        () => {
          // server unreachable: ask again in a minute
          if (authState === 'signed-in') expiryTimer = window.setTimeout(() => scheduleExpiryCheck(session), 60_000);
        },
      );
    }, delay);
  }

  function enter(session: Session): void {
    sessionState = Promise.resolve(session);
    hooks.showSession(session);
    hooks.onEnter(session);
    login.hide();
    setAuthState('signed-in');
    scheduleExpiryCheck(session);
  }

  function leave(): void {
    window.clearTimeout(expiryTimer);
    hooks.onLeave();
    sessionState = Promise.resolve(null);
    setAuthState('signed-out');
  }

  /** Sign in (unless `session` is given), load the data; sign in again whenever a load answers 401. */
  async function run(session: Session | null, reason: LoginReason | undefined, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (!session) {
        setAuthState('signed-out');
        session = await login.prompt(reason);
      }
      enter(session);
      try {
        await hooks.load(signal);
        return;
      } catch (err) {
        if (signal.aborted || !isUnauthenticated(err)) throw err;
        leave();
        session = null;
        reason = { kind: 'expired' };
      }
    }
  }

  function start(session: Session | null, reason?: LoginReason): void {
    current = new AbortController();
    ready = run(session, reason, current.signal);
    ready.catch(() => {
      // Already shown in the error banner; this only keeps the rejection from
      // being reported as unhandled when nobody awaits `ready`.
    });
  }

  function end(reason: LoginReason): void {
    if (authState !== 'signed-in') return;
    current?.abort();
    leave();
    start(null, reason);
  }

  return {
    begin() {
      setAuthState('checking');
      login.checking();
      const checked = fetchSession().then(
        (session) => ({ session, reason: undefined }),
        (err: unknown) => ({ session: null, reason: { kind: 'checkFailed', error: err } as const }),
      );
      sessionState = checked.then(({ session }) => session);
      ready = checked.then(({ session, reason }) => {
        start(session, reason);
        return ready; // the one start() has just set
      });
      ready.catch(() => {});
    },
    get ready() {
      return ready;
    },
    get session() {
      return sessionState;
    },
    signedIn: () => authState === 'signed-in',
    signal: () => current?.signal,
    lateError(what, err) {
      if (authState !== 'signed-in') return;
      if (isUnauthenticated(err)) {
        end({ kind: 'expired' });
        return;
      }
      hooks.showError(describeError(what, err));
    },
    end,
    recheck() {
      if (authState !== 'signed-in') return;
      fetchSession().then(
        (session) => {
          if (!session) end({ kind: 'expired' });
        },
        () => {
          // server unreachable: the live feed keeps retrying
        },
      );
    },
    async signOut() {
      if (authState !== 'signed-in') return;
      const session = await sessionState;
      // The session's loads and live feed stop before the server ends it: a
      // request still under way then would be answered 401.
      current?.abort();
      leave();
      try {
        await signOut();
      } catch (err) {
        // still signed in on the server: carry on with the same session
        start(session);
        hooks.showError(describeError('user.signOutFailed', err));
        return;
      }
      start(null, { kind: 'signedOut' });
    },
  };
}
