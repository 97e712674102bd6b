/**
 * Preload (`node --import …/exit-with-parent.js cli.js …`) for processes the chaos suite starts
 * inside namespaces: when stdin (a pipe from the runner) closes, the runner is gone — even killed
 * with SIGKILL, which it cannot handle — so the process SIGTERMs itself and shuts down as usual
 * instead of living on in a namespace nobody will remove.
 */
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
