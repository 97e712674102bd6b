// transport-tls's test certificates, shared (the root suites import them from there too).
export * from '../../../transport-tls/test/certs.js';
