/**
 * Packages the host uses only when the config asks for them (declared as optional
 * peerDependencies): a deployment installs core + host and just the stages it runs.
 */

/** Whether `e` says that the package `name` itself is not installed (not one of its own imports). */
export function isNotInstalled(e: unknown, name: string): boolean {
  return (
    (e as NodeJS.ErrnoException | undefined)?.code === 'ERR_MODULE_NOT_FOUND' &&
    String((e as Error).message).includes(`'${name}'`)
  );
}

/** Import an optional package: undefined when it is not installed; any other failure is thrown. */
export async function importOptional<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch (e) {
    if (isNotInstalled(e, name)) return undefined;
    throw e;
  }
}

/** The line that tells what to install. */
export function installHint(name: string): string {
  return `(npm install ${name})`;
}
