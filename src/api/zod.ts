import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// The API's zod: every schema under src/api imports it from here, so `.openapi()` is available
// wherever a schema is declared and the same objects validate requests and write /openapi.json.
extendZodWithOpenApi(z);

export { z };
