// Every string the interface shows comes from this module. Chinese (zh-CN) is
// the default; English is chosen with the language button (remembered in
// localStorage) or with `?lang=en` in the URL, which wins over localStorage.
//
// Map labels are not translated: they are the official Chinese names from the
// data.

export type Lang = 'zh-CN' | 'en';

export const LANGS: readonly Lang[] = ['zh-CN', 'en'];

const STORAGE_KEY = 'wangge.lang';

/** China Standard Time: every time shown is in this zone, whatever the browser's. */
export const TIME_ZONE = 'Asia/Shanghai';

const zh = {
  'app.title': '玉溪市网格化服务管理',
  'app.subtitle': '网格地图',
  'lang.switch': 'English',
  'lang.switch.title': 'Switch to English',

  'login.title': '用户登录',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.submitting': '正在登录…',
  'login.checking': '正在检查登录状态…',
  'login.missing': '请输入用户名和密码',
  'login.invalid': '用户名或密码错误',
  'login.tooMany': '登录尝试次数过多，请在 {wait}后重试',
  'login.tooManyLater': '登录尝试次数过多，请稍后重试',
  'login.failed': '登录失败',
  'login.expired': '会话已过期，请重新登录',
  'login.signedOut': '已退出登录',
  'login.checkFailed': '无法检查登录状态',
  'wait.seconds': '{n} 秒',
  'wait.minutes': '{n} 分钟',

  'user.label': '当前用户',
  'user.area': '管辖区域',
  'user.signOut': '退出登录',
  'user.signOutFailed': '退出登录失败',

  'role.operator': '指挥中心操作员',
  'role.dispatcher': '调度员',
  'role.planner': '网格规划员',
  'role.worker': '网格员',
  'role.auditor': '审计员',
  'role.admin': '系统管理员',

  'layers.title': '图层',
  'layer.county': '县（市、区）',
  'layer.township': '乡镇（街道）',
  'layer.village': '村（社区）',
  'layer.grid': '网格',
  'layer.facility': '服务设施',
  'layers.facility.hint': '放大至 11 级以上显示',

  'stats.title': '数据概况',
  'stats.loading': '加载中…',
  'stats.unavailable': '暂无数据',
  'stats.city': '市',
  'stats.county': '县（市、区）',
  'stats.township': '乡镇（街道）',
  'stats.village': '村（社区）',
  'stats.grid_plans': '网格方案',
  'stats.grid_cells': '网格',
  'stats.households': '户数',
  'stats.residents': '居民',
  'stats.facilities': '服务设施',
  'stats.grid_workers': '网格员',
  'stats.incidents': '事件',
  'stats.incident_events': '事件处置记录',
  'stats.updated': '更新于',
  'stats.tz': '北京时间',

  'field.name': '名称',
  'field.code': '编码',
  'field.level': '层级',
  'field.parent_code': '上级编码',
  'field.village_code': '所属村（社区）编码',
  'field.households': '户数',
  'field.kind': '类型',
  'field.id': '编号',

  'level.city': '市',
  'level.county': '县（市、区）',
  'level.township': '乡镇（街道）',
  'level.village': '村（社区）',
  'level.grid': '网格',
  'level.grid_cell': '网格',
  'level.facility': '服务设施',

  'kind.governance_centre': '综治中心',
  'kind.service_station': '便民服务站',
  'kind.migrant_service_station': '流动人口服务站',
  'kind.mediation_organisation': '人民调解组织',
  'kind.police_station': '派出所',
  'kind.school': '学校',
  'kind.hospital': '医院',
  'kind.resettlement_base': '易地搬迁安置点',

  'error.load': '数据加载失败',
  'error.dismiss': '关闭',
  'error.network': '无法连接服务器',

  'map.zoomIn': '放大',
  'map.zoomOut': '缩小',
  'map.resetBearing': '重置方向',
  'map.fullscreen': '全屏',
  'map.exitFullscreen': '退出全屏',
  'map.title': '玉溪市网格地图',
  'map.meters': '米',
  'map.kilometers': '公里',
  'map.popupClose': '关闭弹窗',
  'map.toggleAttribution': '显示/隐藏版权信息',
} as const;

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  'app.title': 'Yuxi Grid Management',
  'app.subtitle': 'Grid map',
  'lang.switch': '中文',
  'lang.switch.title': '切换到中文',

  'login.title': 'Sign in',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.submitting': 'Signing in…',
  'login.checking': 'Checking your session…',
  'login.missing': 'Enter your username and password',
  'login.invalid': 'Wrong username or password',
  'login.tooMany': 'Too many sign-in attempts: try again in {wait}',
  'login.tooManyLater': 'Too many sign-in attempts: try again later',
  'login.failed': 'Sign-in failed',
  'login.expired': 'Your session has expired: please sign in again',
  'login.signedOut': 'Signed out',
  'login.checkFailed': 'Could not check your session',
  'wait.seconds': '{n} s',
  'wait.minutes': '{n} min',

  'user.label': 'Signed in as',
  'user.area': 'Area',
  'user.signOut': 'Sign out',
  'user.signOutFailed': 'Sign-out failed',

  'role.operator': 'Command-centre operator',
  'role.dispatcher': 'Dispatcher',
  'role.planner': 'Grid planner',
  'role.worker': 'Grid worker',
  'role.auditor': 'Auditor',
  'role.admin': 'Administrator',

  'layers.title': 'Layers',
  'layer.county': 'Counties',
  'layer.township': 'Townships',
  'layer.village': 'Villages',
  'layer.grid': 'Grid cells',
  'layer.facility': 'Facilities',
  'layers.facility.hint': 'shown from zoom 11',

  'stats.title': 'Overview',
  'stats.loading': 'Loading…',
  'stats.unavailable': 'Not available',
  'stats.city': 'City',
  'stats.county': 'Counties',
  'stats.township': 'Townships',
  'stats.village': 'Villages',
  'stats.grid_plans': 'Grid plans',
  'stats.grid_cells': 'Grid cells',
  'stats.households': 'Households',
  'stats.residents': 'Residents',
  'stats.facilities': 'Facilities',
  'stats.grid_workers': 'Grid workers',
  'stats.incidents': 'Incidents',
  'stats.incident_events': 'Incident events',
  'stats.updated': 'Updated',
  'stats.tz': 'CST',

  'field.name': 'Name',
  'field.code': 'Code',
  'field.level': 'Level',
  'field.parent_code': 'Parent code',
  'field.village_code': 'Village code',
  'field.households': 'Households',
  'field.kind': 'Kind',
  'field.id': 'ID',

  'level.city': 'City',
  'level.county': 'County / district',
  'level.township': 'Township / subdistrict',
  'level.village': 'Village / community',
  'level.grid': 'Grid cell',
  'level.grid_cell': 'Grid cell',
  'level.facility': 'Facility',

  'kind.governance_centre': 'Governance centre',
  'kind.service_station': 'Service station',
  'kind.migrant_service_station': 'Migrant service station',
  'kind.mediation_organisation': 'Mediation organisation',
  'kind.police_station': 'Police station',
  'kind.school': 'School',
  'kind.hospital': 'Hospital',
  'kind.resettlement_base': 'Resettlement base',

  'error.load': 'Failed to load data',
  'error.dismiss': 'Dismiss',
  'error.network': 'Cannot reach the server',

  'map.zoomIn': 'Zoom in',
  'map.zoomOut': 'Zoom out',
  'map.resetBearing': 'Reset bearing to north',
  'map.fullscreen': 'Enter fullscreen',
  'map.exitFullscreen': 'Exit fullscreen',
  'map.title': 'Yuxi grid map',
  'map.meters': 'm',
  'map.kilometers': 'km',
  'map.popupClose': 'Close popup',
  'map.toggleAttribution': 'Toggle attribution',
};

const dictionaries: Record<Lang, Record<MessageKey, string>> = { 'zh-CN': zh, en };

function parseLang(value: string | null | undefined): Lang | null {
  if (!value) return null;
  const v = value.toLowerCase();
  if (v === 'en' || v.startsWith('en-')) return 'en';
  if (v === 'zh' || v.startsWith('zh')) return 'zh-CN';
  return null;
}

function readStoredLang(): Lang | null {
  try {
    return parseLang(window.localStorage.getItem(STORAGE_KEY));
  } catch {
    return null; // storage disabled (privacy mode): fall back to the default
  }
}

/** `?lang=` beats localStorage, which beats the default (zh-CN). */
function initialLang(): Lang {
  const fromUrl = parseLang(new URLSearchParams(window.location.search).get('lang'));
  return fromUrl ?? readStoredLang() ?? 'zh-CN';
}

let current: Lang = initialLang();
const listeners = new Set<(lang: Lang) => void>();

export function getLang(): Lang {
  return current;
}

export function t(key: MessageKey): string {
  return dictionaries[current][key];
}

/** `t(key)` with `{name}` placeholders replaced from `params`. */
export function tf(key: MessageKey, params: Record<string, string | number>): string {
  return t(key).replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** A wait in seconds, as "30 秒" / "30 s", or whole minutes (rounded up) from one minute on. */
export function formatWait(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  return s < 60 ? tf('wait.seconds', { n: s }) : tf('wait.minutes', { n: Math.ceil(s / 60) });
}

/** Looks up a key built at run time (e.g. `kind.${kind}`), falling back to `fallback`. */
export function tDynamic(key: string, fallback: string): string {
  const dict: Record<string, string> = dictionaries[current];
  return Object.prototype.hasOwnProperty.call(dict, key) ? (dict[key] ?? fallback) : fallback;
}

/**
 * Switches the language: remembers it in localStorage, keeps a `?lang=` in the
 * URL in step (only if the URL has one, so a plain URL stays plain), updates
 * <html lang> and tells every subscriber to re-render.
 */
export function setLang(lang: Lang): void {
  if (lang === current) return;
  current = lang;
  try {
    window.localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered; still switched for this page
  }
  const url = new URL(window.location.href);
  if (url.searchParams.has('lang')) {
    url.searchParams.set('lang', lang === 'en' ? 'en' : 'zh-CN');
    window.history.replaceState(window.history.state, '', url);
  }
  applyDocumentLang();
  for (const listener of listeners) listener(lang);
}

export function onLangChange(listener: (lang: Lang) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function applyDocumentLang(): void {
  document.documentElement.lang = current;
  document.title = `${t('app.title')} · ${t('app.subtitle')}`;
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(current).format(n);
}

/** A date-time in China Standard Time, as 2025-11-25 18:30:05 in either language. */
export function formatTime(date: Date): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: TIME_ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(date);
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}

/** MapLibre's own control strings (zoom buttons etc.) for the given language. */
export function mapLocale(): Record<string, string> {
  return {
    'NavigationControl.ZoomIn': t('map.zoomIn'),
    'NavigationControl.ZoomOut': t('map.zoomOut'),
    'NavigationControl.ResetBearing': t('map.resetBearing'),
    'FullscreenControl.Enter': t('map.fullscreen'),
    'FullscreenControl.Exit': t('map.exitFullscreen'),
    'Map.Title': t('map.title'),
    'Popup.Close': t('map.popupClose'),
    'AttributionControl.ToggleAttribution': t('map.toggleAttribution'),
    'ScaleControl.Meters': t('map.meters'),
    'ScaleControl.Kilometers': t('map.kilometers'),
  };
}
