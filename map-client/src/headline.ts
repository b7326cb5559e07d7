// The headline strip: `GET /api/v1/stats/headline`.
//
//   {"open_by_tier":{"village":n,"township":n,"county":n,"city":n},"overdue":n,
//    "resolved_this_month":n,"resolved_at_township_or_below":n,
//    "share_at_township_or_below":0.83,"month":"2026-11"}
//
// Open incidents by the tier holding them, overdue ones, and this month's
// resolutions with the share settled at township level or below (the
// escalation rule's headline figure: 小事不出村、大事不出乡镇).

import { TIERS, type Headline } from './api';
import { el, relabel, text } from './dom';
import { formatNumber, formatPercent, onLangChange, t, tf, type MessageKey } from './i18n';

export interface HeadlineStrip {
  readonly root: HTMLElement;
  set(headline: Headline): void;
  setUnavailable(): void;
  reset(): void;
}

function figure(id: string, label: HTMLElement, value: string, raw: string, extra?: HTMLElement): HTMLElement {
  const node = el('div', { class: `figure figure-${id}`, 'data-figure': id, 'data-value': raw }, label, el('span', { class: 'value' }, value));
  if (extra) node.append(extra);
  return node;
}

export function createHeadline(): HeadlineStrip {
  const body = el('div', { class: 'headline-body' }, text('p', 'headline.loading', { class: 'loading' }));
  const root = el(
    'section',
    { class: 'panel headline', id: 'headline', 'aria-labelledby': 'headline-heading' },
    text('h2', 'headline.title', { id: 'headline-heading', class: 'visually-hidden' }),
    body,
  );
  let last: Headline | null = null;
  let unavailable = false;

  const render = (): void => {
    if (!last) {
      body.replaceChildren(text('p', unavailable ? 'headline.unavailable' : 'headline.loading', { class: 'loading' }));
      return;
    }
    const h = last;
    const open = el('div', { class: 'figure-group group-open' }, text('span', 'headline.open', { class: 'group-label' }));
    const row = el('div', { class: 'figures' });
    for (const tier of TIERS) {
      const n = h.open_by_tier?.[tier] ?? 0;
      row.append(figure(`open-${tier}`, text('span', `tier.${tier}` as MessageKey, { class: 'label' }), formatNumber(n), String(n)));
    }
    open.append(row);
    const overdue = figure('overdue', text('span', 'headline.overdue', { class: 'label' }), formatNumber(h.overdue ?? 0), String(h.overdue ?? 0));
    if ((h.overdue ?? 0) > 0) overdue.classList.add('alert');
    const resolved = figure(
      'resolved-this-month',
      text('span', 'headline.resolvedThisMonth', { class: 'label' }),
      formatNumber(h.resolved_this_month ?? 0),
      String(h.resolved_this_month ?? 0),
    );
    const share = h.share_at_township_or_below;
    const shareFigure = figure(
      'share',
      text('span', 'headline.share', { class: 'label' }),
      typeof share === 'number' ? formatPercent(share) : '—',
      typeof share === 'number' ? String(share) : '',
      el('span', { class: 'sub' }, formatNumber(h.resolved_at_township_or_below ?? 0)),
    );
    const month = el('p', { class: 'month', 'data-month': h.month ?? '' }, h.month ? tf('headline.month', { month: h.month }) : '');
    body.replaceChildren(
      open,
      el('div', { class: 'figure-group group-other' }, el('div', { class: 'figures' }, overdue, resolved, shareFigure), month),
    );
    shareFigure.title = `${t('headline.share')}: ${formatNumber(h.resolved_at_township_or_below ?? 0)} / ${formatNumber(h.resolved_this_month ?? 0)}`;
  };

  onLangChange(() => {
    relabel(root);
    render();
  });

  return {
    root,
    set(headline) {
      last = headline;
      unavailable = false;
      render();
    },
    setUnavailable() {
      if (last) return; // keep the last figures shown
      unavailable = true;
      render();
    },
    reset() {
      last = null;
      unavailable = false;
      render();
    },
  };
}
