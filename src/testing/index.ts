/** In-process testing: simulate requests against an App with no socket. */
export {
  type SimulatedResult,
  type SimulateOptions,
  simulate,
  TestClient,
} from './client.ts';
export { SimulatedRequest, SimulatedResponse } from './simulated.ts';
