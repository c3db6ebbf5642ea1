import { serve } from "../../api/adapter/node/server.ts";
import { apiSuite } from "./suite.ts";
import { buildWorld } from "./world.ts";

apiSuite("api (node)", async () => {
  const world = buildWorld();
  const server = await serve(world.app, { address: "127.0.0.1", port: 0 });
  return { base: `http://127.0.0.1:${server.port}`, control: world.control, close: () => server.close() };
}).run();
