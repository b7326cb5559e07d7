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
  'app.subtitle': '指挥中心',
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
  'login.ended': '会话已结束（已在别处退出或被撤销），请重新登录',
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
  'layer.counties': '县（市、区）',
  'layer.townships': '乡镇（街道）',
  'layer.villages': '村（社区）',
  'layer.grid-cells': '网格（负荷）',
  'layer.households': '住户',
  'layer.facilities': '服务设施',
  'layer.incidents': '事件',
  'layer.workers': '网格员',
  'layers.facilities.hint': '放大至 11 级以上显示',
  'layers.households.hint': '放大至 14 级以上显示',
  'layers.workers.hint': '放大至 11 级以上显示',
  'layers.grid-cells.hint': '按网格内在办事件数着色',
  'legend.status': '状态（颜色）',
  'legend.tier': '办理层级（大小、边框）',
  'legend.overdue': '超期未办结',
  'legend.kinds': '设施类型',
  'legend.load': '在办事件数',
  'tiles.title': '矢量瓦片',
  'basemap.title': '底图',

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
  'field.category': '类别',
  'field.severity': '等级',
  'field.status': '状态',
  'field.tier': '办理层级',
  'field.location': '位置',
  'field.grid_cell': '网格',
  'field.reported_at': '上报时间',
  'field.due_at': '办理时限',
  'field.assignee': '承办人',
  'field.reporter': '报告人',
  'field.description': '事件描述',
  'field.open_incidents': '在办事件',
  'field.workers': '网格员人数',
  'field.plan_version': '网格方案版本',
  'field.last_seen': '最后定位',
  'field.cell_code': '所属网格',

  'level.household': '住户',
  'level.worker': '网格员',
  'level.incident': '事件',

  'status.reported': '已上报',
  'status.assigned': '已分派',
  'status.accepted': '已受理',
  'status.in_progress': '处置中',
  'status.resolved': '已化解',
  'status.closed': '已结案',
  'status.rejected': '不予受理',
  'status.duplicate': '重复上报',

  'tier.village': '村级',
  'tier.township': '乡镇级',
  'tier.county': '县级',
  'tier.city': '市级',

  'severity.minor': '一般',
  'severity.moderate': '较大',
  'severity.major': '重大',
  'severity.critical': '特别重大',

  'worker.available': '空闲',
  'worker.busy': '执行任务',
  'worker.off_duty': '休息',
  'worker.stale': '位置过时',

  'filter.status': '状态',
  'filter.status.open': '未办结',
  'filter.tier': '层级',
  'filter.category': '类别',
  'filter.all': '全部',
  'filter.search': '搜索',
  'filter.search.placeholder': '标题、地点、承办人…',

  'incidents.title': '事件列表',
  'incidents.total': '共 {n} 件',
  'incidents.range': '第 {from}–{to} 件，共 {total} 件',
  'incidents.empty': '没有符合条件的事件',
  'incidents.loading': '加载中…',
  'incidents.unavailable': '事件列表暂不可用',
  'incidents.prev': '上一页',
  'incidents.next': '下一页',
  'incidents.overdue': '超期',
  'incidents.unassigned': '未分派',
  'categories.title': '事件类别',

  'detail.title': '事件详情',
  'detail.close': '关闭详情',
  'detail.loading': '加载中…',
  'detail.unavailable': '事件详情暂不可用',
  'detail.timeline': '处置记录',
  'detail.timeline.empty': '暂无处置记录',
  'detail.reporter.hidden': '（无权查看）',

  'event.reported': '上报',
  'event.assigned': '分派',
  'event.accepted': '受理',
  'event.started': '开始处置',
  'event.escalated': '提级办理',
  'event.resolved': '化解',
  'event.closed': '结案',
  'event.rejected': '不予受理',
  'event.marked_duplicate': '标记为重复',
  'event.reassigned': '改派',
  'event.note': '备注',

  'headline.title': '事件态势',
  'headline.open': '在办事件',
  'headline.overdue': '超期',
  'headline.resolvedThisMonth': '本月化解',
  'headline.share': '乡镇及以下化解',
  'headline.month': '统计月份 {month}（北京时间）',
  'headline.loading': '加载中…',
  'headline.unavailable': '暂无数据',

  'live.title': '实时数据连接',
  'live.idle': '未连接',
  'live.connecting': '正在连接…',
  'live.live': '实时',
  'live.reconnecting': '正在重连…',
  'live.last': '最近更新',

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

  'view.switch': '视图',
  'view.map': '地图',
  'view.stats': '统计',
  'view.rules': '规则',

  'rules.title': '案件规则',
  'rules.intro': '各层级办理时限与疑似重复的判定范围。修改自下一次给出时限时生效（新上报、升级），在办事件已有的时限不变。',
  'rules.access.edit': '您是市级管理员，可以修改规则；每次修改都记入审计日志。',
  'rules.access.view': '仅供查看：规则只能由市级管理员修改。',
  'rules.loading': '加载中…',
  'rules.unavailable': '规则暂不可用',
  'rules.deadlines': '办理时限',
  'rules.deadlines.hint': '每个层级办理一件事件的小时数；到期未化解的事件自动升级到上一层级。',
  'rules.deadlines.caption': '办理时限（小时），按严重程度与层级',
  'rules.scope': '适用于',
  'rules.scope.default': '默认（所有类别）',
  'rules.scope.own': '{name}（{n} 项自定）',
  'rules.scope.defaultHint': '没有自定时限的类别都使用默认时限。',
  'rules.scope.categoryHint': '留空的格子使用默认时限（灰字所示）；填写的格子优先于默认。',
  'rules.scope.categoryHint.view': '标有“（默认）”的格子使用默认时限，其余是该类别自定的时限。',
  'rules.scope.held': '请先保存或还原修改',
  'rules.col.severity': '严重程度',
  'rules.col.category': '类别',
  'rules.col.radius': '距离（米）',
  'rules.col.window': '时间（小时）',
  'rules.hours': '小时',
  'rules.inherits': '默认 {n}',
  'rules.inherited': '（默认）',
  'rules.reach': '疑似重复',
  'rules.reach.hint': '同一类别的新上报，与一件在办事件相距不超过该距离、且在该时间之内的，提示为疑似重复。',
  'rules.reach.caption': '疑似重复的判定范围，按类别',
  'rules.save': '保存',
  'rules.revert': '还原',
  'rules.saved': '已保存 {n} 项修改',
  'rules.partlySaved': '（在此之前已保存 {n} 项）',
  'rules.failed': '保存失败',
  'rules.invalid.default': '默认时限须为 1 至 {max} 之间的整数小时，不能留空；未保存任何修改。',
  'rules.invalid.own': '时限须为 1 至 {max} 之间的整数小时（留空则使用默认）；未保存任何修改。',
  'rules.invalid.reach': '距离须为 1 至 {radius} 米、时间须为 1 至 {hours} 小时之间的整数；未保存任何修改。',

  'report.title': '化解统计',
  'report.controls': '统计条件',
  'report.by': '分组',
  'report.by.county': '县区',
  'report.by.township': '乡镇街道',
  'report.by.village': '村社区',
  'report.by.grid_cell': '网格',
  'report.by.category': '类别',
  'report.by.month': '月',
  'report.by.week': '周',
  'report.by.day': '日',
  'report.from': '起始日期',
  'report.to': '截止日期',
  'report.category': '类别',
  'report.category.all': '全部类别',
  'report.last12': '近 12 个月',
  'report.allTime': '全部时间',
  'report.refresh': '刷新',
  'report.period': '统计期间：{period}（北京时间，含首尾两日）',
  'report.period.range': '{from} 至 {to}',
  'report.period.from': '{from} 起',
  'report.period.to': '截至 {to}',
  'report.period.all': '全部时间',
  'report.asOf': '数据截至 {time}',
  'report.badRange': '截止日期早于起始日期',
  'report.loading': '加载中…',
  'report.unavailable': '暂无数据',
  'report.empty': '该期间没有数据',
  'report.headline': '总体情况',
  'report.share': '乡镇及以下化解占比',
  'report.share.slogan': '小事不出村、大事不出乡镇',
  'report.share.target': '目标 ≥ {target}',
  'report.share.met': '已达标',
  'report.share.notMet': '未达标',
  'report.share.of': '{n} / {total} 件',
  'report.reported': '上报',
  'report.resolved': '化解',
  'report.open': '在办',
  'report.overdue': '超期',
  'report.median': '化解用时中位数',
  'report.hours': '{n} 小时',
  'report.periodNote': '上报按上报时间、化解按化解时间计入期间；在办、超期为这些上报事件的当前状态。',
  'report.tierChart': '各层级化解数（按{by}）',
  'report.tierChart.desc': '堆叠条形图：每个分组在村级、乡镇级、县级、市级化解的事件数，条末为乡镇及以下占比。',
  'report.tierChart.capped': '图中为化解数最多的 {n} 个（共 {total} 个），下表列出全部。',
  'report.trendChart': '上报与化解趋势（按{by}）',
  'report.trendChart.desc': '折线图：每个时段上报与化解的事件数。',
  'report.legend': '图例',
  'report.table': '化解明细（按{by}）',
  'report.col.code': '编码',
  'report.col.name': '名称',
  'report.col.reported': '上报',
  'report.col.resolved': '化解',
  'report.col.share': '乡镇及以下占比',
  'report.col.open': '在办',
  'report.col.overdue': '超期',
  'report.col.median': '用时中位数（小时）',
  'report.total': '合计',
  'report.notPlaced': '未定位',
  'report.week': '{year} 年第 {week} 周',
  'report.csv': '下载 CSV',
  'report.csv.title': '下载本表（CSV，可用 Excel 打开）',
  'report.mediators': '网格员化解数（一案一补）',
  'report.mediators.show': '显示',
  'report.mediators.count': '共 {n} 名网格员有化解事件，按化解数排序',
  'report.top': '前 {n} 名',
  'report.top.all': '全部',
  'report.col.rank': '名次',
  'report.col.worker': '网格员',
  'report.col.village': '所属村（社区）',
  'report.col.cells': '负责网格',
  'report.col.resolvedAtVillage': '其中村级化解',
  'report.mediated': '各单位化解数',
  'report.mediated.level': '化解层级',
  'report.mediated.caption.village': '村级化解的事件数（按村社区）',
  'report.mediated.caption.township': '乡镇级化解的事件数（按乡镇街道）',
  'report.mediated.caption.county': '县级化解的事件数（按县区）',
  'report.mediated.caption.city': '市级化解的事件数',
  'report.mediated.level.village': '村级（按村社区）',
  'report.mediated.level.township': '乡镇级（按乡镇街道）',
  'report.mediated.level.county': '县级（按县区）',
  'report.mediated.level.city': '市级',

  'field.location_method': '定位方式',
  'field.address': '地址',
  'field.channel': '来源渠道',
  'field.leader': '包案领导',
  'field.duplicate_of': '重复于',
  'field.possible_duplicates': '疑似重复',
  'field.resolved_at': '化解时间',
  'location.device': '设备定位',
  'location.geocoded': '地址匹配',
  'location.manual': '人工标定',
  'location.area': '待定位',
  'location.precision': '±{n} 米',
  'location.precisionKm': '±{n} 公里',
  'location.area.hint': '仅知所属区域，等待调度员在地图上标定位置；地图上的点为区域内的代表点。',
  'channel.api': '系统接口',
  'channel.open311': 'Open311 接口',
  'channel.demo': '演示数据',
  'channel.simulator': '模拟上报',
  'detail.show': '查看事件 {id}',
  'event.located': '标定位置',
  'event.leader_assigned': '确定包案领导',
  'event.reopened': '重新办理',

  'dispatch.title': '指派',
  'dispatch.loading': '正在排序候选网格员…',
  'dispatch.unavailable': '候选网格员暂不可用',
  'dispatch.empty': '没有可指派的网格员',
  'dispatch.refresh': '刷新',
  'dispatch.refresh.title': '重新排序候选网格员',
  'dispatch.readOnly': '仅供查看：由调度员指派',
  'dispatch.skill': '所需技能：{skill}',
  'dispatch.staleAfter': '超过 {n}未定位视为位置过时',
  'dispatch.assign': '指派',
  'dispatch.assign.title': '指派给 {name}',
  'dispatch.assigning': '正在指派…',
  'dispatch.assigned': '已指派给{name}',
  'dispatch.conflict': '未能指派：{detail}',
  'dispatch.failed': '指派失败',
  'dispatch.current': '当前承办',
  'dispatch.refused.off_duty': '休息中，不能指派',
  'dispatch.refused.at_capacity': '已满负荷，不能指派',
  'dispatch.distance': '距离',
  'dispatch.caseload': '在办/上限',
  'dispatch.lastSeen': '最后定位',
  'dispatch.noPosition': '无位置',
  'dispatch.list': '候选网格员（按推荐顺序）',
  'dispatch.rank': '第 {n} 位',
  'group.own_cell': '本网格',
  'group.cover': '代班',
  'group.neighbour_cell': '相邻网格',
  'group.township': '本乡镇',
  'group.beyond': '就近',
  'group.stale': '位置过时',
  'group.unavailable': '暂不可派',
  'reason.own_cell': '负责本网格',
  'reason.cover_for': '代 {name} 值班',
  'reason.neighbour_cell': '负责相邻网格',
  'reason.same_township': '同一乡镇',
  'reason.nearest': '距离最近',
  'reason.has_skill': '具备：{skill}',
  'reason.lacks_skill': '缺少：{skill}',
  'reason.stale': '{age}未定位',
  'reason.stale.never': '从未定位',
  'reason.busy': '执行任务中',
  'reason.off_duty': '休息',
  'reason.at_capacity': '已满负荷',
  'distance.m': '{n} 米',
  'distance.km': '{n} 公里',
  'wait.hours': '{n} 小时',
  'wait.days': '{n} 天',
  'ago.now': '刚刚',
  'ago.seconds': '{n} 秒前',
  'ago.minutes': '{n} 分钟前',
  'ago.hours': '{n} 小时前',
  'ago.days': '{n} 天前',
  'ago.never': '从未定位',

  'side.tabs': '列表',
  'side.incidents': '事件',
  'side.workers': '网格员',
  'workers.title': '网格员',
  'workers.total': '共 {n} 名',
  'workers.loading': '加载中…',
  'workers.unavailable': '网格员列表暂不可用',
  'workers.empty': '没有符合条件的网格员',
  'workers.search': '搜索网格员',
  'workers.search.placeholder': '姓名、网格编码…',
  'workers.capped': '显示前 {n} 名，共 {total} 名；可搜索',
  'workers.caseload': '在办',
  'workers.summary': '空闲 {available} · 执行任务 {busy} · 休息 {off_duty} · 位置过时 {stale}',
} as const;

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  'app.title': 'Yuxi Grid Management',
  'app.subtitle': 'Command centre',
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
  'login.ended': 'Your session has ended (signed out elsewhere or revoked): please sign in again',
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
  'layer.counties': 'Counties',
  'layer.townships': 'Townships',
  'layer.villages': 'Villages',
  'layer.grid-cells': 'Grid cells (load)',
  'layer.households': 'Households',
  'layer.facilities': 'Facilities',
  'layer.incidents': 'Incidents',
  'layer.workers': 'Grid workers',
  'layers.facilities.hint': 'shown from zoom 11',
  'layers.households.hint': 'shown from zoom 14',
  'layers.workers.hint': 'shown from zoom 11',
  'layers.grid-cells.hint': 'shaded by open incidents in the cell',
  'legend.status': 'Status (colour)',
  'legend.tier': 'Handled at (size, outline)',
  'legend.overdue': 'Overdue',
  'legend.kinds': 'Facility kinds',
  'legend.load': 'Open incidents',
  'tiles.title': 'Vector tiles',
  'basemap.title': 'Basemap',

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
  'field.category': 'Category',
  'field.severity': 'Severity',
  'field.status': 'Status',
  'field.tier': 'Handled at',
  'field.location': 'Location',
  'field.grid_cell': 'Grid cell',
  'field.reported_at': 'Reported',
  'field.due_at': 'Due',
  'field.assignee': 'Assignee',
  'field.reporter': 'Reporter',
  'field.description': 'Description',
  'field.open_incidents': 'Open incidents',
  'field.workers': 'Grid workers',
  'field.plan_version': 'Grid plan version',
  'field.last_seen': 'Last seen',
  'field.cell_code': 'Grid cell',

  'level.household': 'Household',
  'level.worker': 'Grid worker',
  'level.incident': 'Incident',

  'status.reported': 'Reported',
  'status.assigned': 'Assigned',
  'status.accepted': 'Accepted',
  'status.in_progress': 'In progress',
  'status.resolved': 'Resolved',
  'status.closed': 'Closed',
  'status.rejected': 'Rejected',
  'status.duplicate': 'Duplicate',

  'tier.village': 'Village',
  'tier.township': 'Township',
  'tier.county': 'County',
  'tier.city': 'City',

  'severity.minor': 'Minor',
  'severity.moderate': 'Moderate',
  'severity.major': 'Major',
  'severity.critical': 'Critical',

  'worker.available': 'Available',
  'worker.busy': 'On a case',
  'worker.off_duty': 'Off duty',
  'worker.stale': 'Position stale',

  'filter.status': 'Status',
  'filter.status.open': 'Open',
  'filter.tier': 'Tier',
  'filter.category': 'Category',
  'filter.all': 'All',
  'filter.search': 'Search',
  'filter.search.placeholder': 'Title, place, assignee…',

  'incidents.title': 'Incidents',
  'incidents.total': '{n} incidents',
  'incidents.range': '{from}–{to} of {total}',
  'incidents.empty': 'No matching incidents',
  'incidents.loading': 'Loading…',
  'incidents.unavailable': 'The incident list is not available',
  'incidents.prev': 'Previous',
  'incidents.next': 'Next',
  'incidents.overdue': 'Overdue',
  'incidents.unassigned': 'Unassigned',
  'categories.title': 'Incident categories',

  'detail.title': 'Incident',
  'detail.close': 'Close details',
  'detail.loading': 'Loading…',
  'detail.unavailable': 'The incident is not available',
  'detail.timeline': 'Timeline',
  'detail.timeline.empty': 'No entries yet',
  'detail.reporter.hidden': '(not shown to your role)',

  'event.reported': 'Reported',
  'event.assigned': 'Assigned',
  'event.accepted': 'Accepted',
  'event.started': 'Work started',
  'event.escalated': 'Escalated',
  'event.resolved': 'Resolved',
  'event.closed': 'Closed',
  'event.rejected': 'Rejected',
  'event.marked_duplicate': 'Marked duplicate',
  'event.reassigned': 'Reassigned',
  'event.note': 'Note',

  'headline.title': 'Situation',
  'headline.open': 'Open incidents',
  'headline.overdue': 'Overdue',
  'headline.resolvedThisMonth': 'Resolved this month',
  'headline.share': 'At township or below',
  'headline.month': 'Month {month} (CST)',
  'headline.loading': 'Loading…',
  'headline.unavailable': 'Not available',

  'live.title': 'Live data connection',
  'live.idle': 'Offline',
  'live.connecting': 'Connecting…',
  'live.live': 'Live',
  'live.reconnecting': 'Reconnecting…',
  'live.last': 'Last update',

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

  'view.switch': 'View',
  'view.map': 'Map',
  'view.stats': 'Statistics',
  'view.rules': 'Rules',

  'rules.title': 'Case rules',
  'rules.intro':
    'How long each tier has to settle a case, and how near another report must be to look like a duplicate. A change applies from the next time a case is given a deadline (a new report, an escalation); open cases keep theirs.',
  'rules.access.edit': 'As a city-wide administrator you can change the rules; every change is audited.',
  'rules.access.view': 'Read only: only a city-wide administrator changes the rules.',
  'rules.loading': 'Loading…',
  'rules.unavailable': 'The rules are not available',
  'rules.deadlines': 'Deadlines',
  'rules.deadlines.hint': 'Hours each tier has to settle a case; a case not resolved in time moves up a tier by itself.',
  'rules.deadlines.caption': 'Deadlines (hours) by severity and tier',
  'rules.scope': 'Applies to',
  'rules.scope.default': 'Default (every category)',
  'rules.scope.own': '{name} ({n} of its own)',
  'rules.scope.defaultHint': 'Every category without a deadline of its own uses the default.',
  'rules.scope.categoryHint': 'An empty cell uses the default (shown in grey); a filled one takes precedence over it.',
  'rules.scope.categoryHint.view': 'Cells marked “(default)” use the default; the others are the category’s own.',
  'rules.scope.held': 'Save or revert the changes first',
  'rules.col.severity': 'Severity',
  'rules.col.category': 'Category',
  'rules.col.radius': 'Distance (m)',
  'rules.col.window': 'Time (hours)',
  'rules.hours': 'hours',
  'rules.inherits': 'default {n}',
  'rules.inherited': '(default)',
  'rules.reach': 'Possible duplicates',
  'rules.reach.hint': 'A new report of the same category within this distance of an open case, and within this time of it, is suggested as a possible duplicate.',
  'rules.reach.caption': 'Duplicate reach by category',
  'rules.save': 'Save',
  'rules.revert': 'Revert',
  'rules.saved': 'Saved {n} change(s)',
  'rules.partlySaved': '({n} saved before it)',
  'rules.failed': 'Not saved',
  'rules.invalid.default': 'A default deadline must be a whole number of hours from 1 to {max}, and cannot be empty; nothing was saved.',
  'rules.invalid.own': 'A deadline must be a whole number of hours from 1 to {max} (empty: the default); nothing was saved.',
  'rules.invalid.reach': 'The distance must be a whole number of metres from 1 to {radius}, the time of hours from 1 to {hours}; nothing was saved.',

  'report.title': 'Resolution statistics',
  'report.controls': 'Query',
  'report.by': 'Group by',
  'report.by.county': 'County',
  'report.by.township': 'Township',
  'report.by.village': 'Village',
  'report.by.grid_cell': 'Grid cell',
  'report.by.category': 'Category',
  'report.by.month': 'Month',
  'report.by.week': 'Week',
  'report.by.day': 'Day',
  'report.from': 'From',
  'report.to': 'To',
  'report.category': 'Category',
  'report.category.all': 'All categories',
  'report.last12': 'Last 12 months',
  'report.allTime': 'All time',
  'report.refresh': 'Refresh',
  'report.period': 'Period: {period} (China Standard Time, both days included)',
  'report.period.range': '{from} to {to}',
  'report.period.from': 'from {from}',
  'report.period.to': 'until {to}',
  'report.period.all': 'all time',
  'report.asOf': 'Figures as of {time}',
  'report.badRange': 'The end date is before the start date',
  'report.loading': 'Loading…',
  'report.unavailable': 'Not available',
  'report.empty': 'Nothing in this period',
  'report.headline': 'Overall',
  'report.share': 'Resolved at township level or below',
  'report.share.slogan': 'Small matters stay in the village, big ones in the township',
  'report.share.target': 'Target ≥ {target}',
  'report.share.met': 'met',
  'report.share.notMet': 'not met',
  'report.share.of': '{n} of {total}',
  'report.reported': 'Reported',
  'report.resolved': 'Resolved',
  'report.open': 'Open',
  'report.overdue': 'Overdue',
  'report.median': 'Median time to resolve',
  'report.hours': '{n} h',
  'report.periodNote': 'Reports count in the period they were made, resolutions in the period they happened; open and overdue are the current state of the cases reported in the period.',
  'report.tierChart': 'Resolved by tier, by {by}',
  'report.tierChart.desc': 'Stacked bar chart: cases resolved at village, township, county and city level per group; the figure after each bar is the share resolved at township level or below.',
  'report.tierChart.capped': 'The chart shows the {n} groups with the most resolutions (of {total}); the table lists them all.',
  'report.trendChart': 'Reported and resolved, by {by}',
  'report.trendChart.desc': 'Line chart: cases reported and cases resolved per period.',
  'report.legend': 'Legend',
  'report.table': 'Resolution by {by}',
  'report.col.code': 'Code',
  'report.col.name': 'Name',
  'report.col.reported': 'Reported',
  'report.col.resolved': 'Resolved',
  'report.col.share': 'Township or below',
  'report.col.open': 'Open',
  'report.col.overdue': 'Overdue',
  'report.col.median': 'Median hours to resolve',
  'report.total': 'Total',
  'report.notPlaced': 'Not placed',
  'report.week': 'Week {week}, {year}',
  'report.csv': 'Download CSV',
  'report.csv.title': 'Download this table (CSV, opens in Excel)',
  'report.mediators': 'Cases per mediator (per-case subsidy)',
  'report.mediators.show': 'Show',
  'report.mediators.count': '{n} grid workers resolved cases; most first',
  'report.top': 'Top {n}',
  'report.top.all': 'All',
  'report.col.rank': 'Rank',
  'report.col.worker': 'Grid worker',
  'report.col.village': 'Village',
  'report.col.cells': 'Grid cells',
  'report.col.resolvedAtVillage': 'Of which at village level',
  'report.mediated': 'Cases resolved per unit',
  'report.mediated.level': 'Resolved at',
  'report.mediated.caption.village': 'Cases resolved at village level, per village',
  'report.mediated.caption.township': 'Cases resolved at township level, per township',
  'report.mediated.caption.county': 'Cases resolved at county level, per county',
  'report.mediated.caption.city': 'Cases resolved at city level',
  'report.mediated.level.village': 'Village level (per village)',
  'report.mediated.level.township': 'Township level (per township)',
  'report.mediated.level.county': 'County level (per county)',
  'report.mediated.level.city': 'City level',

  'field.location_method': 'Located by',
  'field.address': 'Address',
  'field.channel': 'Channel',
  'field.leader': 'Leader in charge',
  'field.duplicate_of': 'Duplicate of',
  'field.possible_duplicates': 'Possible duplicates',
  'field.resolved_at': 'Resolved',
  'location.device': 'Device (GPS)',
  'location.geocoded': 'Address match',
  'location.manual': 'Placed by hand',
  'location.area': 'Not placed yet',
  'location.precision': '±{n} m',
  'location.precisionKm': '±{n} km',
  'location.area.hint': 'Only its area is known: waiting for a dispatcher to place it on the map. The point on the map stands for the area.',
  'channel.api': 'API',
  'channel.open311': 'Open311',
  'channel.demo': 'Demo data',
  'channel.simulator': 'Simulator',
  'detail.show': 'Show incident {id}',
  'event.located': 'Placed on the map',
  'event.leader_assigned': 'Leader assigned',
  'event.reopened': 'Reopened',

  'dispatch.title': 'Assign',
  'dispatch.loading': 'Ranking grid workers…',
  'dispatch.unavailable': 'The candidates are not available',
  'dispatch.empty': 'No grid worker to assign',
  'dispatch.refresh': 'Refresh',
  'dispatch.refresh.title': 'Rank the grid workers again',
  'dispatch.readOnly': 'Read only: dispatchers assign',
  'dispatch.skill': 'Needs: {skill}',
  'dispatch.staleAfter': 'a position older than {n} is stale',
  'dispatch.assign': 'Assign',
  'dispatch.assign.title': 'Assign to {name}',
  'dispatch.assigning': 'Assigning…',
  'dispatch.assigned': 'Assigned to {name}',
  'dispatch.conflict': 'Not assigned: {detail}',
  'dispatch.failed': 'Assignment failed',
  'dispatch.current': 'Assignee',
  'dispatch.refused.off_duty': 'Off duty: cannot be assigned',
  'dispatch.refused.at_capacity': 'At capacity: cannot be assigned',
  'dispatch.distance': 'Distance',
  'dispatch.caseload': 'Cases / capacity',
  'dispatch.lastSeen': 'Last seen',
  'dispatch.noPosition': 'no position',
  'dispatch.list': 'Candidate grid workers, best first',
  'dispatch.rank': 'Rank {n}',
  'group.own_cell': 'Own cell',
  'group.cover': 'Cover',
  'group.neighbour_cell': 'Next cell',
  'group.township': 'Township',
  'group.beyond': 'Nearby',
  'group.stale': 'Stale position',
  'group.unavailable': 'Unavailable',
  'reason.own_cell': 'Works this cell',
  'reason.cover_for': 'Covers for {name}',
  'reason.neighbour_cell': 'Works a next cell',
  'reason.same_township': 'Same township',
  'reason.nearest': 'Nearest',
  'reason.has_skill': 'Skilled: {skill}',
  'reason.lacks_skill': 'Lacks: {skill}',
  'reason.stale': 'No position for {age}',
  'reason.stale.never': 'Never located',
  'reason.busy': 'On a case',
  'reason.off_duty': 'Off duty',
  'reason.at_capacity': 'At capacity',
  'distance.m': '{n} m',
  'distance.km': '{n} km',
  'wait.hours': '{n} h',
  'wait.days': '{n} d',
  'ago.now': 'just now',
  'ago.seconds': '{n} s ago',
  'ago.minutes': '{n} min ago',
  'ago.hours': '{n} h ago',
  'ago.days': '{n} d ago',
  'ago.never': 'never',

  'side.tabs': 'Lists',
  'side.incidents': 'Incidents',
  'side.workers': 'Workers',
  'workers.title': 'Grid workers',
  'workers.total': '{n} workers',
  'workers.loading': 'Loading…',
  'workers.unavailable': 'The worker list is not available',
  'workers.empty': 'No matching grid workers',
  'workers.search': 'Search grid workers',
  'workers.search.placeholder': 'Name, grid cell code…',
  'workers.capped': 'First {n} of {total} shown; search to narrow',
  'workers.caseload': 'Cases',
  'workers.summary': 'Available {available} · On a case {busy} · Off duty {off_duty} · Stale {stale}',
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

/** A share (0..1) as a percentage: "83%" / "83.4%". */
export function formatPercent(share: number): string {
  return new Intl.NumberFormat(current, { style: 'percent', maximumFractionDigits: 1 }).format(share);
}

/** A number with at most `digits` decimals: "30.5". */
export function formatDecimal(n: number, digits = 1): string {
  return new Intl.NumberFormat(current, { maximumFractionDigits: digits }).format(n);
}

/** The China Standard Time calendar day of `date`, as YYYY-MM-DD. */
export function cstDay(date: Date): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(date);
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** A short date-time in China Standard Time for lists: 11-25 18:30. */
export function formatShortTime(date: Date): string {
  return formatTime(date).slice(5, 16);
}

/** An RFC 3339 time (or Unix seconds) in CST, or '—' when missing or unreadable. */
export function formatApiTime(value: string | number | null | undefined, short = false): string {
  if (value === null || value === undefined || value === '') return '—';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return short ? formatShortTime(date) : formatTime(date);
}

/** A distance: metres (whole) under 1 km, else kilometres with one decimal: "850 米", "1.2 公里". */
export function formatDistance(metres: number): string {
  if (metres < 999.5) return tf('distance.m', { n: formatNumber(Math.round(metres)) });
  const km = new Intl.NumberFormat(current, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(metres / 1000);
  return tf('distance.km', { n: km });
}

/** A length of time: "45 秒", "12 分钟", "3 小时", "2 天" (rounded down). */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return tf('wait.seconds', { n: s });
  if (s < 3600) return tf('wait.minutes', { n: Math.floor(s / 60) });
  if (s < 86_400) return tf('wait.hours', { n: Math.floor(s / 3600) });
  return tf('wait.days', { n: formatNumber(Math.floor(s / 86_400)) });
}

/** How long ago `date` was, from `now`: "刚刚", "3 分钟前" … ; "从未定位" for none. */
export function formatAgo(date: Date | null, now: number = Date.now()): string {
  if (!date) return t('ago.never');
  const s = Math.floor((now - date.getTime()) / 1000);
  if (s < 10) return t('ago.now');
  if (s < 60) return tf('ago.seconds', { n: s });
  if (s < 3600) return tf('ago.minutes', { n: Math.floor(s / 60) });
  if (s < 86_400) return tf('ago.hours', { n: Math.floor(s / 3600) });
  return tf('ago.days', { n: formatNumber(Math.floor(s / 86_400)) });
}
