/** Placeholder: this middleware lands with its issue. */
import { ContainerModule } from 'inversify';
export default new ContainerModule(() => {});
