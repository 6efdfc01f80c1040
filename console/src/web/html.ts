/** Tagged templates for Preact (htm): no JSX build step, plain TypeScript everywhere. */
export { html } from 'htm/preact'
