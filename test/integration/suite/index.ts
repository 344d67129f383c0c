/** Entry point VS Code calls (`extensionTestsPath`): registers the tests, then runs them. */
import { runAll } from './harness';
import './extension.test';

export function run(): Promise<void> {
  return runAll();
}
