import { createLambdaHandler } from './compose.ts';

/**
 * The Lambda entry point. Composed once per cold start, at module load: a configuration error fails the init phase
 * (and so every invocation of that instance) with a message naming the setting, instead of surfacing later as a 500.
 */
export const handler = createLambdaHandler();
