// Chateau web client, the one connection of the page, shared by the
// modules that send requests. app.js fills in the hooks before signing in.
'use strict';
import { Client } from './protocol.js';

export const hooks = {};
export const client = new Client(hooks);
export const request = (frame, cb, durable) => client.request(frame, cb, durable);
