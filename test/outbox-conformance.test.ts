import { memoryOutbox } from '../src/index.js';
import { describeOutbox } from './support/outbox-conformance.js';

describeOutbox('memoryOutbox', async () => ({ outbox: memoryOutbox(), cleanup: async () => undefined }));
