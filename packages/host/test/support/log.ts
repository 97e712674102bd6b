// transport-tls's test logger and waitFor, shared (the root suites import them from there too).
export { type LogEntry, captureLogger, waitFor } from '../../../transport-tls/test/helpers.js';
