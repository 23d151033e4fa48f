// /swarm: inspect, init, join, leave, update, unlock key, unlock. Init, join, leave and unlock
// change this node alone and run where they are asked (see forwarding.ts).
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { invalidArgument, unavailable, validateInitRequest, validateJoinRequest } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import { publicCluster } from '../present.js';
import { queryBool, queryInt } from '../query.js';
import { sendEmpty, sendJson } from '../reply.js';
import { objectBody, queryOf } from '../request.js';

export function swarmRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
  app.get('/swarm', (_req, reply) => {
    const { store } = b.manager();
    return sendJson(reply, 200, publicCluster(store.view((tx) => tx.cluster())!));
  });
  app.post('/swarm/init', async (req, reply) => {
    const body = validateInitRequest(req.body);
    const id = await b.init({
      ...(body.AdvertiseAddr ? { advertiseAddr: body.AdvertiseAddr } : {}),
      ...(body.ListenAddr ? { listenAddr: body.ListenAddr } : {}),
      spec: body.Spec ?? {},
      network: body.network,
      ...(body.ForceNewCluster === true ? { forceNewCluster: true } : {}),
    });
    return sendJson(reply, 200, id);
  });
  app.post('/swarm/join', async (req, reply) => {
    const body = validateJoinRequest(req.body);
    await b.join({
      remoteAddrs: body.RemoteAddrs,
      joinToken: body.JoinToken,
      ...(body.AdvertiseAddr ? { advertiseAddr: body.AdvertiseAddr } : {}),
      ...(body.ListenAddr ? { listenAddr: body.ListenAddr } : {}),
      ...(body.Availability ? { availability: body.Availability } : {}),
    });
    return sendEmpty(reply);
  });
  app.post('/swarm/leave', async (req, reply) => {
    await b.leave(queryBool(queryOf(req).force));
    return sendEmpty(reply);
  });
  app.post('/swarm/update', async (req, reply) => {
    const p = queryOf(req);
    await b.manager().control.updateSwarm(queryInt(p.version, 'version'), req.body, {
      worker: queryBool(p.rotateWorkerToken),
      manager: queryBool(p.rotateManagerToken),
      unlockKey: queryBool(p.rotateManagerUnlockKey),
    });
    // This manager's key store follows the spec just written before the answer; the others
    // follow as they apply it.
    await b.syncKeys();
    return sendEmpty(reply);
  });
  app.get('/swarm/unlockkey', (_req, reply) => {
    b.manager(); // Docker's 503 unless this node is an unlocked manager
    return sendJson(reply, 200, { UnlockKey: b.unlockKey() });
  });
  app.post('/swarm/unlock', async (req, reply) => {
    const body = objectBody(req.body) as { UnlockKey?: unknown };
    if (typeof body.UnlockKey !== 'string') throw invalidArgument('UnlockKey must be a string');
    if (b.state === 'inactive') throw unavailable('This node is not part of a swarm');
    await b.unlock(body.UnlockKey);
    return sendEmpty(reply);
  });
}
