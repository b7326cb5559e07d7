// The draft editor: selecting cells on the map (shift-click adds), and the
// tools that turn a drawing into an edit request (split along a line, move the
// boundary between two cells along a line, add a cell drawn as a polygon),
// merge, remove, rename, and dragging a vertex of the selected cell.
//
// Lines and polygons are drawn with terra-draw (its MapLibre adapter); the
// drawing is dropped as soon as it is finished: what is kept is the server's
// answer, drawn from the plan's tiles. A vertex drag sends back the vertex
// exactly as `/cells` gave it (not as the map drew it, which is rounded), since
// `move_vertex` finds the vertex by its coordinates.
//
// terra-draw is loaded on first use (its own chunk): most sessions never draw.

import type { MapLayerMouseEvent, MapMouseEvent, Map as MapLibreMap } from 'maplibre-gl';
import type { TerraDraw } from 'terra-draw';

import { el, relabel, text } from './dom';
import { t, tf, type MessageKey } from './i18n';
import { fetchPlanCells, sendEdit, type Edit, type EditOutcome, type Lonlat, type PlanCellCollection } from './planapi';
import type { PlanLayers } from './planlayers';

export type Tool = 'select' | 'split' | 'boundary' | 'vertex' | 'add';

export interface OpenDraft {
  version: number;
  revision: number;
  editable: boolean;
}

export interface PlanEditorOptions {
  map: MapLibreMap;
  layers: PlanLayers;
  plan(): OpenDraft | null;
  /** Sends an edit (the panel deals with its answer, refusal or conflict); resolves true if it was applied. */
  submit(request: (version: number, revision: number) => Promise<EditOutcome>): Promise<boolean>;
  onUndo(): void;
  onRedo(): void;
  /** A tool needs cells selected first, or a field filled in. */
  onHint(key: MessageKey | null): void;
  onError(what: MessageKey, err: unknown): void;
  onSelectionChange(codes: string[]): void;
}

export interface PlanEditor {
  readonly toolbar: HTMLElement;
  tool(): Tool;
  /** What terra-draw is drawing now (static: nothing; null: not loaded). */
  drawing(): string | null;
  selected(): string[];
  select(codes: string[]): void;
  /** The selected cell's vertices, exactly as `/cells` gave them (vertex tool). */
  vertices(): Lonlat[];
  /** A new plan opened (or none): tools back to select, nothing selected. */
  reset(): void;
  /** After an edit or undo: drops what no longer exists and reloads the vertices. */
  afterEdit(removed: string[]): void;
  setEditable(editable: boolean): void;
  relabel(): void;
}

function uniqueVertices(cells: PlanCellCollection): Lonlat[] {
  const seen = new Set<string>();
  const out: Lonlat[] = [];
  for (const f of cells.features) {
    const polygons = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const ring of polygons.flat()) {
      // a ring's last position repeats its first
      for (const p of ring.slice(0, -1)) {
        const key = `${p[0]},${p[1]}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push([p[0] ?? 0, p[1] ?? 0]);
      }
    }
  }
  return out;
}

export function createPlanEditor(options: PlanEditorOptions): PlanEditor {
  const { map, layers } = options;
  let tool: Tool = 'select';
  let selected: string[] = [];
  let vertices: Lonlat[] = [];
  let vertexRequest = 0;
  let dragging: number | null = null;
  let draw: TerraDraw | null = null;

  const toolButtons = new Map<Tool, HTMLButtonElement>();
  const toolButton = (id: Tool, key: MessageKey): HTMLButtonElement => {
    const b = text('button', key, { type: 'button', class: 'plan-tool', 'data-tool': id, 'aria-pressed': 'false' });
    b.addEventListener('click', () => setTool(tool === id ? 'select' : id));
    toolButtons.set(id, b);
    return b;
  };
  const action = (id: string, key: MessageKey, run: () => void): HTMLButtonElement => {
    const b = text('button', key, { type: 'button', class: 'plan-action', id });
    b.addEventListener('click', run);
    return b;
  };

  const renameInput = el('input', { type: 'text', id: 'plan-rename-input', maxlength: '60' });
  renameInput.placeholder = t('plans.rename.placeholder');
  const addCode = el('input', { type: 'text', id: 'plan-add-code', maxlength: '40' });
  const addName = el('input', { type: 'text', id: 'plan-add-name', maxlength: '60' });
  const addVillage = el('input', { type: 'text', id: 'plan-add-village', maxlength: '20' });
  const addForm = el(
    'div',
    { class: 'plan-add-form', id: 'plan-add-form', hidden: '' },
    el('label', {}, text('span', 'plans.add.code'), addCode),
    el('label', {}, text('span', 'plans.add.name'), addName),
    el('label', {}, text('span', 'plans.add.village'), addVillage),
    text('p', 'plans.add.hint', { class: 'plan-hint' }),
  );

  const toolbar = el(
    'div',
    { class: 'plan-toolbar', id: 'plan-toolbar' },
    el(
      'div',
      { class: 'plan-tools', role: 'toolbar' },
      toolButton('select', 'plans.tool.select'),
      toolButton('split', 'plans.tool.split'),
      toolButton('boundary', 'plans.tool.boundary'),
      toolButton('vertex', 'plans.tool.vertex'),
      toolButton('add', 'plans.tool.add'),
      action('plan-merge', 'plans.tool.merge', () => void merge()),
      action('plan-remove', 'plans.tool.remove', () => void remove()),
    ),
    el('div', { class: 'plan-rename' }, renameInput, action('plan-rename', 'plans.tool.rename', () => void rename())),
    addForm,
    el('div', { class: 'plan-undo' }, action('plan-undo', 'plans.undo', () => options.onUndo()), action('plan-redo', 'plans.redo', () => options.onRedo())),
  );

  let drawLoading: Promise<TerraDraw> | null = null;
  function ensureDraw(): Promise<TerraDraw> {
    drawLoading ??= (async () => {
      const [{ TerraDraw, TerraDrawLineStringMode, TerraDrawPolygonMode }, { TerraDrawMapLibreGLAdapter }] = await Promise.all([
        import('terra-draw'),
        import('terra-draw-maplibre-gl-adapter'),
      ]);
      const d = new TerraDraw({
        adapter: new TerraDrawMapLibreGLAdapter({ map }),
        modes: [new TerraDrawLineStringMode(), new TerraDrawPolygonMode()],
      });
      d.start();
      d.on('finish', (id) => {
        const feature = d.getSnapshotFeature(id);
        d.clear();
        if (!feature) return;
        const coords = feature.geometry.coordinates as unknown;
        if (feature.geometry.type === 'LineString') void lineDrawn(coords as Lonlat[]);
        else if (feature.geometry.type === 'Polygon') void polygonDrawn((coords as Lonlat[][])[0] ?? []);
      });
      draw = d;
      return d;
    })();
    drawLoading.catch(() => {
      drawLoading = null;
    });
    return drawLoading;
  }

  /** The terra-draw mode the tool needs (static: not drawing). */
  const drawMode = (): string => (tool === 'split' || tool === 'boundary' ? 'linestring' : tool === 'add' ? 'polygon' : 'static');

  function applyDrawMode(): void {
    if (drawMode() === 'static') {
      if (draw) {
        draw.clear();
        draw.setMode('static');
      }
      return;
    }
    ensureDraw().then(
      // the tool may have changed while terra-draw loaded
      (d) => d.setMode(drawMode()),
      (err: unknown) => {
        options.onError('plans.error.draw', err);
        setTool('select');
      },
    );
  }

  function setTool(next: Tool): void {
    const plan = options.plan();
    if (next !== 'select' && !plan?.editable) next = 'select';
    if (next === 'split' && selected.length !== 1) {
      options.onHint('plans.hint.one');
      next = 'select';
    } else if (next === 'boundary' && selected.length !== 2) {
      options.onHint('plans.hint.two');
      next = 'select';
    } else if (next === 'vertex' && selected.length !== 1) {
      options.onHint('plans.hint.one');
      next = 'select';
    } else {
      options.onHint(next === 'split' || next === 'boundary' ? 'plans.hint.line' : next === 'vertex' ? 'plans.hint.vertex' : next === 'add' ? 'plans.hint.polygon' : null);
    }
    tool = next;
    for (const [id, b] of toolButtons) b.setAttribute('aria-pressed', String(id === tool));
    addForm.hidden = tool !== 'add';
    if (tool === 'add' && !addVillage.value && selected.length) {
      // a new cell most likely goes into the village of the cell beside it
      const village = map.querySourceFeatures('plan-cells', { sourceLayer: 'grid-cells', filter: ['==', ['get', 'code'], selected[0] ?? ''] })[0]?.properties['village_code'];
      if (typeof village === 'string') addVillage.value = village;
    }
    applyDrawMode();
    void loadVertices();
  }

  async function loadVertices(): Promise<void> {
    const plan = options.plan();
    const request = ++vertexRequest;
    if (tool !== 'vertex' || !plan || selected.length !== 1) {
      vertices = [];
      layers.setVertices([]);
      return;
    }
    try {
      const cells = await fetchPlanCells(plan.version, selected);
      if (request !== vertexRequest) return;
      vertices = uniqueVertices(cells);
      layers.setVertices(vertices);
    } catch (err) {
      if (request === vertexRequest) options.onError('plans.error.cells', err);
    }
  }

  const editRequest = (edit: Edit) => (version: number, revision: number) => sendEdit(version, revision, edit);

  async function lineDrawn(line: Lonlat[]): Promise<void> {
    const used = tool;
    setTool('select');
    if (used === 'split' && selected[0]) await options.submit(editRequest({ op: 'split', cell: selected[0], line }));
    else if (used === 'boundary' && selected.length === 2) await options.submit(editRequest({ op: 'move_boundary', cells: [selected[0] ?? '', selected[1] ?? ''], line }));
  }

  async function polygonDrawn(ring: Lonlat[]): Promise<void> {
    const code = addCode.value.trim();
    const name = addName.value.trim();
    const village = addVillage.value.trim();
    setTool('select');
    if (!code || !name || !village) {
      options.onHint('plans.hint.addfields');
      return;
    }
    if (await options.submit(editRequest({ op: 'add_cell', code, name, village, polygon: ring }))) {
      addCode.value = '';
      addName.value = '';
      select([code]);
    }
  }

  async function merge(): Promise<void> {
    if (!options.plan()?.editable) return;
    if (selected.length < 2) return options.onHint('plans.hint.merge');
    const cells = [...selected];
    if (await options.submit(editRequest({ op: 'merge', cells }))) select([cells[0] ?? '']);
  }

  async function remove(): Promise<void> {
    if (!options.plan()?.editable) return;
    // one cell: removed (the rules decide about the ground it leaves); two: the first joins the second
    const [cell, into] = selected;
    if (!cell || selected.length > 2) return options.onHint('plans.hint.remove');
    const question = into ? tf('plans.remove.into.confirm', { code: cell, into }) : tf('plans.remove.confirm', { code: cell });
    if (!window.confirm(question)) return;
    await options.submit(editRequest(into ? { op: 'remove_cell', cell, into } : { op: 'remove_cell', cell }));
  }

  async function rename(): Promise<void> {
    if (!options.plan()?.editable) return;
    const name = renameInput.value.trim();
    if (selected.length !== 1 || !selected[0]) return options.onHint('plans.hint.one');
    if (!name) return options.onHint('plans.hint.name');
    if (await options.submit(editRequest({ op: 'rename', cell: selected[0], name }))) renameInput.value = '';
  }

  function select(codes: string[]): void {
    selected = codes;
    layers.setSelected(codes);
    options.onSelectionChange(codes);
    if (tool === 'vertex' && codes.length !== 1) setTool('select');
    else void loadVertices();
  }

  map.on('click', layers.fillLayer, (e: MapLayerMouseEvent) => {
    if (!options.plan() || (tool !== 'select' && tool !== 'vertex')) return;
    const code = e.features?.[0]?.properties['code'];
    if (typeof code !== 'string') return;
    const add = e.originalEvent.shiftKey || e.originalEvent.ctrlKey || e.originalEvent.metaKey;
    if (add) select(selected.includes(code) ? selected.filter((c) => c !== code) : [...selected, code]);
    else select([code]);
  });

  map.on('mousedown', layers.verticesLayer, (e: MapLayerMouseEvent) => {
    if (tool !== 'vertex' || !options.plan()?.editable) return;
    // vertices may lie a few pixels apart: take the one nearest the pointer
    const near = (i: number): number => {
      const v = vertices[i];
      if (!v) return Infinity;
      const p = map.project(v);
      return Math.hypot(p.x - e.point.x, p.y - e.point.y);
    };
    const hits = (e.features ?? []).map((f) => f.properties['index']).filter((i): i is number => typeof i === 'number');
    const index = hits.sort((a, b) => near(a) - near(b))[0];
    if (index === undefined) return;
    e.preventDefault();
    map.dragPan.disable();
    dragging = index;
  });
  map.on('mousemove', (e: MapMouseEvent) => {
    if (dragging === null) return;
    layers.setVertices(vertices, { index: dragging, at: [e.lngLat.lng, e.lngLat.lat] });
  });
  map.on('mouseup', (e: MapMouseEvent) => {
    if (dragging === null) return;
    const from = vertices[dragging];
    dragging = null;
    map.dragPan.enable();
    if (!from) return;
    const to: Lonlat = [e.lngLat.lng, e.lngLat.lat];
    void options.submit(editRequest({ op: 'move_vertex', from, to })).then((ok) => {
      // refused: the vertex goes back where it is
      if (!ok) layers.setVertices(vertices);
    });
  });

  return {
    toolbar,
    tool: () => tool,
    drawing: () => draw?.getMode() ?? null,
    selected: () => selected,
    select,
    vertices: () => vertices,
    reset() {
      dragging = null;
      selected = [];
      layers.setSelected([]);
      options.onSelectionChange([]);
      setTool('select');
      options.onHint(null);
    },
    afterEdit(removed) {
      if (removed.length && selected.some((c) => removed.includes(c))) select(selected.filter((c) => !removed.includes(c)));
      else void loadVertices();
    },
    setEditable(editable) {
      toolbar.hidden = !editable;
      if (!editable) setTool('select');
    },
    relabel() {
      relabel(toolbar);
      renameInput.placeholder = t('plans.rename.placeholder');
    },
  };
}
