// Tiny DOM helpers shared by the panels (ui.ts) and the sign-in form
// (login.ts). Elements carrying `data-i18n` / `data-i18n-title` are
// re-labelled by `relabel` on a language switch.

import { t, type MessageKey } from './i18n';

export type Attrs = Record<string, string>;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

/** An element whose text is the translation of `key`, kept up to date on language switches. */
export function text<K extends keyof HTMLElementTagNameMap>(tag: K, key: MessageKey, attrs: Attrs = {}): HTMLElementTagNameMap[K] {
  const node = el(tag, { ...attrs, 'data-i18n': key });
  node.textContent = t(key);
  return node;
}

export function relabel(root: ParentNode): void {
  for (const node of root.querySelectorAll<HTMLElement>('[data-i18n]')) {
    node.textContent = t(node.dataset['i18n'] as MessageKey);
  }
  for (const node of root.querySelectorAll<HTMLElement>('[data-i18n-title]')) {
    const title = t(node.dataset['i18nTitle'] as MessageKey);
    node.title = title;
    node.setAttribute('aria-label', title);
  }
}
