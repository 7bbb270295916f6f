// Mounts GraphiQL against the endpoint beside this page. The URL is resolved relative to the
// page, so the gateway works under any path prefix. `?query=` opens a query (shareable links).
(function () {
  'use strict';
  var endpoint = new URL('graphql', window.location.href).href;
  var params = new URLSearchParams(window.location.search);
  var defaultQuery = [
    '# Welcome to ogrom. Press the run button (or Ctrl-Enter) to send the query.',
    '{',
    '  categories {',
    '    name',
    '    children { name }',
    '  }',
    '  brands(first: 5) {',
    '    totalCount',
    '    nodes { name slug }',
    '  }',
    '}',
    '',
  ].join('\n');
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: endpoint }),
      defaultQuery: defaultQuery,
      query: params.get('query') || undefined,
      defaultEditorToolsVisibility: true,
    })
  );
})();
