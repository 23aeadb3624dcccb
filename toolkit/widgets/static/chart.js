// toolkit.widgets.components.Chart in the page: each chart's figure arrives as plotly JSON in an
// ipywidgets HTML widget (class tk-chart-host) and is drawn beside it with Plotly.react, so a new
// figure updates the plot in place instead of building a new one. plotly.js is the copy that the
// jupyterlab-plotly renderer of the server already serves (no second copy, no CDN). Installed once
// per page; a host carries data-tk-drawing while a figure it received is not drawn yet.
(() => {
  if (window.tkCharts) { window.tkCharts.scan(); return; }
  const MIME = 'application/vnd.plotly.v1+json';
  let loading = null;

  // plotly.js as jupyterlab-plotly loads it (its renderer keeps it as a static of its class)
  function plotly() {
    if (loading === null) {
      loading = (async () => {
        const factory = await window._JUPYTERLAB['jupyterlab-plotly'].get('./mimeExtension');
        const Renderer = factory().RenderedPlotly;
        if (!Renderer.Plotly) {  // no plotly figure drawn on the page yet: let the renderer load it
          const empty = {data: {[MIME]: {data: [], layout: {}}}, metadata: {}, trusted: true, setData() {}};
          await new Renderer({mimeType: MIME}).renderModel(empty);
        }
        await Renderer.loadingPlotly;
        return Renderer.Plotly;
      })();
    }
    return loading;
  }

  const state = new WeakMap();  // host -> {plot, text, timer}

  function received(host, content) {
    const spec = content.querySelector('script.tk-plotly-spec');
    const s = state.get(host);
    s.text = spec ? spec.textContent : null;
    content.style.display = s.text === null ? '' : 'none';  // the placeholder, or nothing beside the plot
    if (s.text === null && !s.plot && s.timer === null) return;  // nothing drawn, nothing to draw
    host.dataset.tkDrawing = '1';
    if (s.timer === null) {  // after the messages already received (the page's text first); one draw for several
      s.timer = setTimeout(() => { s.timer = null; draw(host, s); }, 0);
    }
  }

  async function draw(host, s) {
    const text = s.text;
    try {
      const P = await plotly();
      if (text === null) {
        if (s.plot) { P.purge(s.plot); s.plot.remove(); s.plot = null; }
      } else {
        const figure = JSON.parse(text);
        const layout = figure.layout || {};
        if (!layout.height) layout.height = 360;  // as the jupyterlab-plotly renderer draws a figure
        if (!s.plot) {
          s.plot = document.createElement('div');
          s.plot.className = 'tk-plot';
          s.plot.style.flex = '1 1 100%';
          s.plot.style.minWidth = '0';
          host.appendChild(s.plot);
        }
        await P.react(s.plot, figure.data || [], layout, figure.config || {});
      }
    } catch (err) {
      console.error('tk-chart:', err);
    } finally {
      if (s.text === text && s.timer === null) delete host.dataset.tkDrawing;
    }
  }

  function watch(host) {
    const content = host.querySelector(':scope > .widget-html-content');
    if (!content || state.has(host)) return;
    const s = {plot: null, text: null, timer: null, width: 0};
    state.set(host, s);
    new MutationObserver(() => received(host, content)).observe(content, {childList: true, subtree: true});
    new ResizeObserver(entries => {  // the page's width changed, or a hidden chart was shown
      const width = entries[entries.length - 1].contentRect.width;
      if (s.plot && width > 0 && width !== s.width && s.timer === null) {
        plotly().then(P => P.Plots.resize(s.plot));
      }
      s.width = width;
    }).observe(host);
    received(host, content);
  }

  function scan() { document.querySelectorAll('.tk-chart-host').forEach(watch); }

  // new widget views: one look for hosts per batch of changes (a few elements carry the class)
  new MutationObserver(records => {
    if (records.some(r => r.addedNodes.length > 0)) scan();
  }).observe(document.body, {childList: true, subtree: true});
  window.tkCharts = {scan, plotly};
  scan();
  // a page whose charts wait for a first action (Optimise) starts plotly.js once the page is idle, so that
  // the first answer does not also wait for its start (about 0.3 s evaluating the bundle)
  const warm = () => plotly().catch(() => {});
  if (window.requestIdleCallback) requestIdleCallback(warm, {timeout: 3000}); else setTimeout(warm, 1000);
})();
