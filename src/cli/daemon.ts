/**
 * `gitops-connector serve`: assembles the daemon from the validated config — outbox store, delivery (network
 * or dry-run), worker, scheduler, HTTP server, config reloader — and owns its lifecycle. Stopping drains:
 * webhooks and /readyz answer 503, deliveries in flight get `server.shutdownGraceMs` to finish, the rest stays
 * pending on disk for the next start.
 */
import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { createConfigReloader } from "../config/reload.ts";
import { requireTokens, type Config, type LoadResult } from "../config/load.ts";
import type { Delivery } from "../core/delivery.ts";
import { IntakeUnavailableError, type Intake } from "../core/intake.ts";
import { createDryRunDelivery, createNetworkDelivery } from "../delivery/router.ts";
import { createSupersededDelivery } from "../delivery/superseded.ts";
import { compileInstances, indexByName, type CompileDeps, type Instance } from "../instances/compile.ts";
import { hostname } from "node:os";
import type { Job } from "../core/model.ts";
import { createAbandonedPrSweep } from "../scheduler/abandoned-sweep.ts";
import { createPromotionReconcile } from "../scheduler/promotion-reconcile.ts";
import { createLeadership } from "../scheduler/leadership.ts";
import type { Logger, SecretRedactor } from "../observability/logger.ts";
import { createMetrics } from "../observability/metrics.ts";
import { observeFetch } from "../observability/outbound.ts";
import { translate } from "../operators/index.ts";
import { cachedRead } from "../outbox/cached-read.ts";
import { createOutboxIntake } from "../outbox/intake.ts";
import { createScheduler, type PeriodicTask } from "../scheduler/scheduler.ts";
import { createStorageHealth, isStorageError } from "../outbox/storage-health.ts";
import { watchFileIdentity } from "../outbox/file-identity.ts";
import { acquireOutboxLock, thisHolder } from "../outbox/lock.ts";
import { createPostgresOutboxStore } from "../outbox/postgres-store.ts";
import { promised } from "../outbox/promised.ts";
import type { OutboxStore } from "../outbox/types.ts";
import { createSqliteOutboxStore, readLockHolder, type SqliteOutboxStore } from "../outbox/store.ts";
import { dryRunOutboxPath, postgresWhere, resolveOutboxPath } from "../outbox/paths.ts";
import { createOutboxWorker } from "../outbox/worker.ts";
import { createApp, createUiApp } from "../server/app.ts";
import { createUi } from "../server/ui.ts";
import { createPromotionsApi, promotionNewJob } from "../server/promotions-api.ts";
import type { WebhookSettings } from "../server/webhook.ts";
import { PRODUCT, USER_AGENT, VERSION } from "../core/version.ts";

const HOUR_MS = 3_600_000;
/** How long the knowledge of a commit nobody mentions any more is kept (notify-once depends on it). */
const COMMIT_KNOWLEDGE_RETENTION_MS = 30 * 24 * HOUR_MS;
/** How long the scheduler's lease lasts without renewal: a dead leader's tasks move within this. */
const SCHEDULER_LEASE_MS = 15_000;
const PRUNE_INTERVAL_MS = 10 * 60_000;
/** How old the pending depth the maxDepth check reads on PostgreSQL may be (a webhook may overshoot by this much intake). */
const POSTGRES_DEPTH_MAX_AGE_MS = 250;

export interface ServeOptions {
  config: Config;
  /** Loads the config again from the same source, for reloads. */
  reload: () => LoadResult;
  /** The file to watch for changes; undefined in legacy env mode. */
  watchFile?: string;
  port?: number;
  dataDir: string;
  dryRun: boolean;
  logger: Logger;
  /** The level came from --log-level or LOG_LEVEL, which win over the config's logLevel on reload too. */
  logLevelFromCli?: boolean;
  redactor: SecretRedactor;
  /** Replaces the network delivery (tests); never used by the CLI. */
  delivery?: Delivery;
  /**
   * The daemon cannot go on (its outbox file was deleted or replaced): the caller stops it and exits non-zero,
   * so the supervisor starts a fresh one.
   */
  onFatal?: (reason: string) => void;
}

export interface RunningDaemon {
  readonly url: string;
  readonly outboxPath: string;
  /** Reloads the config now (SIGHUP); false when the new config was rejected and the old one kept. */
  reload(trigger: string): boolean;
  stop(reason: string): Promise<void>;
}

/**
 * The keys a running daemon cannot change: the address it listens on, and the outbox file and how it was opened.
 * Everything else (instances, auth, outbox concurrency, timeouts, backoffs, attempts and depth, scheduler
 * intervals, the log level, the shutdown grace) applies at once.
 */
const RESTART_KEYS = [
  ["server.host", (config: Config) => config.server.host],
  ["server.port", (config: Config) => config.server.port],
  ["ui.port", (config: Config) => config.ui.port],
  ["outbox.path", (config: Config) => config.outbox.path],
  ["outbox.synchronous", (config: Config) => config.outbox.synchronous],
] as const;

/** The restart-only keys that differ; `server.port` not when `--port` sets the port anyway. */
export function keysNeedingRestart(running: Config, next: Config, portFromCli = false): string[] {
  return RESTART_KEYS.filter(([key, read]) => read(running) !== read(next) && !(portFromCli && key === "server.port")).map(([key]) => key);
}

/** A config and its compiled instances: swapped together, in one step, by a reload. */
interface Running {
  readonly config: Config;
  readonly instances: readonly Instance[];
  readonly instanceNamed: (name: string) => Instance | undefined;
  readonly settings: WebhookSettings;
}

function compile(config: Config, deps: CompileDeps): Running {
  const instances = compileInstances(config.instances, deps);
  return {
    config,
    instances,
    instanceNamed: indexByName(instances),
    settings: { maxBodyBytes: config.server.maxBodyBytes, auth: { hmacKeys: config.hmacKeys, bearerTokens: config.bearerTokens }, instances },
  };
}

/**
 * Free space below which start-up warns: SQLite's write-ahead log grows by up to ~4 MiB (1000 pages) before each
 * checkpoint copies it into the database file, which must then have room to grow too (README "Sizing the outbox
 * volume"). A volume with less is full before the first checkpoint.
 */
const MIN_FREE_BYTES = 32 * 1024 * 1024;

/** Free bytes on the outbox's volume; undefined for :memory: or when the system cannot say. */
export function freeBytesFor(outboxPath: string): number | undefined {
  if (outboxPath === ":memory:") return undefined;
  try {
    const stats = statfsSync(dirname(outboxPath));
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

function warnWhenTight(outboxPath: string, logger: Logger): void {
  const free = freeBytesFor(outboxPath);
  if (free === undefined || free >= MIN_FREE_BYTES) return;
  logger.warn(
    { component: "outbox", outbox: outboxPath, freeBytes: free },
    `the outbox's volume has ${(free / 1048576).toFixed(1)} MiB free: SQLite's write-ahead log alone needs up to 4 MiB before each checkpoint; ` +
      "give it at least 64 MiB (README: Sizing the outbox volume), or webhooks will get 503 when it fills",
  );
}

/** The outbox the daemon runs on: SQLite (a file, locked to this daemon) or PostgreSQL (shared by replicas). */
interface OpenedOutbox {
  readonly store: OutboxStore;
  /** The SQLite file, for the volume's free space and the identity watch; undefined on PostgreSQL. */
  readonly file?: string;
  /** Where it is, for logs: a path, or the database's host and name (never its password). */
  readonly where: string;
  release(): void;
}

async function openOutbox(config: Config, options: ServeOptions, logger: Logger): Promise<OpenedOutbox> {
  // A dry run delivers nothing, so it never shares a live outbox: it keeps a SQLite file of its own either way.
  if (config.outbox.driver === "postgres" && !options.dryRun) {
    // A claim outlives any attempt (each is cut at outbox.timeoutMs), so only a replica that died loses one.
    const store = await createPostgresOutboxStore({ url: config.outbox.url ?? "", leaseMs: Math.max(3_000, 3 * config.outbox.timeoutMs), listen: config.outbox.listen });
    await store.recordHolder(thisHolder(Date.now()));
    return { store, where: postgresWhere(config.outbox.url ?? ""), release: () => {} };
  }
  const liveOutboxPath = resolveOutboxPath({ configuredPath: config.outbox.path, dataDir: options.dataDir });
  // A dry run keeps its own file, so nothing it "delivers" makes a later live run skip a commit.
  const outboxPath = options.dryRun ? dryRunOutboxPath(liveOutboxPath) : liveOutboxPath;
  // One daemon per outbox: taken before the file is opened (so no second daemon migrates or delivers from it).
  const lock = outboxPath === ":memory:" ? undefined : acquireOutboxLock(outboxPath, () => readLockHolder(outboxPath));
  let sqlite: SqliteOutboxStore;
  try {
    sqlite = createSqliteOutboxStore({ path: outboxPath, synchronous: config.outbox.synchronous });
    sqlite.recordHolder(thisHolder(Date.now()));
  } catch (error) {
    lock?.release();
    throw error;
  }
  warnWhenTight(outboxPath, logger);
  return { store: promised(sqlite), file: outboxPath, where: outboxPath, release: () => lock?.release() };
}

/** Starts the daemon; rejects when the outbox cannot be opened or the port cannot be bound. */
export async function startDaemon(options: ServeOptions): Promise<RunningDaemon> {
  const { logger, redactor } = options;
  let draining = false;
  redactor.setSecrets(options.config.secrets);
  const config = options.config;

  const outbox = await openOutbox(config, options, logger);
  const { store } = outbox;
  const outboxPath = outbox.where;
  // SQLite: claims a version that kept them in the file left there; PostgreSQL: this replica's own, if any.
  await store.releaseClaims();
  const leftPending = await store.pendingDepth();
  if (leftPending > 0) logger.info({ component: "outbox", jobs: leftPending }, "resuming jobs left pending by the last process");

  const metrics = createMetrics();
  const storage = createStorageHealth({
    probe: () => store.probeWrite(Date.now()),
    logger,
    onError: (operation) => metrics.storageErrors.inc({ operation }),
  });
  metrics.observeOutbox({
    freeBytes: () => (outbox.file === undefined ? undefined : freeBytesFor(outbox.file)),
    depth: () => store.pendingDepth(),
    dead: () => store.deadCount(),
    maxDepth: () => running.config.outbox.maxDepth,
    oldestPendingAt: () => store.oldestPendingAt(),
    rateLimited: () => store.rateLimitedTargets(Date.now()),
  });
  metrics.observeInstances(() => running.instances.length);
  // Every call to a provider or subscriber is counted by target and status class (src/observability/outbound.ts).
  const outboundFetch = observeFetch((target, outcome) => metrics.outboundResponses.inc({ target, class: outcome }));
  const compileDeps: CompileDeps = { userAgent: USER_AGENT, logger: logger.child({ component: "providers" }), fetch: outboundFetch, onSecret: (secret) => redactor.addSecret(secret) };
  let running = compile(config, compileDeps);
  const instanceNamed = (name: string) => running.instanceNamed(name);
  const stopController = new AbortController();
  // Commits a finished one superseded are planned through the outbox like reported ones (src/delivery/superseded.ts).
  let wakeWorker = () => {};
  const superseded = createSupersededDelivery({
    instanceNamed,
    async submit(instance, commit, plan) {
      const jobs = await store.submit(instance, commit, (known) => plan(known), Date.now());
      for (const job of jobs) metrics.jobsPlanned.inc({ kind: job.kind, target: job.target });
      if (jobs.length > 0) wakeWorker();
      return jobs;
    },
    cutoffHours: () => running.config.scheduler.abandonedPrCutoffHours,
    logger,
  });
  const delivery =
    options.delivery ??
    (options.dryRun ? createDryRunDelivery({ logger, instanceNamed }) : createNetworkDelivery({ instanceNamed, logger, fetch: outboundFetch, superseded, recordPromotion: (record) => void store.recordPromotion(record, Date.now()) }));
  const worker = createOutboxWorker({
    store,
    delivery,
    logger,
    ...config.outbox,
    redact: (text) => redactor.redact(text),
    onStorageError: (operation, error) => storage.failed(operation, error),
    onStorageOk: () => storage.ok(),
    onAttempt(job, outcome, durationMs) {
      metrics.jobs.inc({ kind: job.job.kind, target: job.job.target, outcome });
      metrics.deliverySeconds.observe({ kind: job.job.kind, outcome }, durationMs / 1000);
    },
  });
  wakeWorker = () => worker.wake();
  // Jobs another replica enqueued wake this one too (PostgreSQL); the worker's idle look is the safety poll.
  const stopWakeups = store.subscribeWake?.(() => worker.wake());
  // On PostgreSQL the depth is a count of the pending jobs, too dear to make per webhook: one at most this old.
  const depth = config.outbox.driver === "postgres" ? cachedRead(() => store.pendingDepth(), POSTGRES_DEPTH_MAX_AGE_MS) : undefined;
  const outboxIntake = createOutboxIntake({ store, maxDepth: () => running.config.outbox.maxDepth, onEnqueued: () => worker.wake(), health: storage, ...(depth ? { depth } : {}) });
  // A file deleted or replaced under the daemon is fatal: checked before each webhook is stored and every 2 s.
  const identity = outbox.file === undefined ? { changed: () => undefined } : watchFileIdentity(outbox.file);
  let fatal: string | undefined;
  const checkIdentity = () => {
    const changed = fatal ?? identity.changed();
    if (changed && !fatal) {
      fatal = `outbox ${changed} while the daemon ran: nothing more can be stored in it; exiting so the supervisor starts afresh`;
      logger.fatal({ component: "outbox", outbox: outboxPath }, fatal);
      options.onFatal?.(fatal);
    }
    return fatal;
  };
  const identityTimer = setInterval(checkIdentity, 2_000);
  identityTimer.unref?.();
  // The webhooks of one event-loop turn are stored in one transaction (group commit), so one look at the file
  // covers them all: a stat per webhook was as costly as writing its jobs.
  let lookedThisTurn = false;
  const checkIdentityOncePerTurn = () => {
    if (!lookedThisTurn) {
      lookedThisTurn = true;
      setImmediate(() => void (lookedThisTurn = false));
      checkIdentity();
    }
    return fatal;
  };
  const intake: Intake = {
    async submit(instance, observation) {
      const gone = checkIdentityOncePerTurn();
      if (gone) throw new IntakeUnavailableError(gone, 30);
      const jobs = await outboxIntake.submit(instance, observation);
      for (const job of jobs) metrics.jobsPlanned.inc({ kind: job.kind, target: job.target });
      return jobs;
    },
    readiness: async () => (fatal ? { ready: false, reason: fatal } : outboxIntake.readiness()),
  };
  const tasks: PeriodicTask[] = [
    {
      name: "prune-outbox",
      intervalMs: PRUNE_INTERVAL_MS,
      jitterMs: PRUNE_INTERVAL_MS / 10,
      async run() {
        try {
          await pruneOutbox();
        } catch (error) {
          if (isStorageError(error)) storage.failed("schedule", error);
          throw error;
        }
      },
    },
  ];
  async function pruneOutbox() {
    const now = Date.now();
    const { scheduler } = running.config;
    const pruned = await store.prune(now - scheduler.pruneDoneAfterHours * HOUR_MS, now - COMMIT_KNOWLEDGE_RETENTION_MS);
    // A PR stays findable by the sweep for abandonedPrCutoffHours; its once-key must outlive that.
    const onceKeys = await store.pruneOnceKeys(now - Math.max(COMMIT_KNOWLEDGE_RETENTION_MS, 2 * scheduler.abandonedPrCutoffHours * HOUR_MS));
    if (pruned.jobs + pruned.commits + onceKeys > 0) logger.info({ component: "outbox", ...pruned, onceKeys }, "pruned done jobs and forgotten commits");
  }
  // The dry run calls no API, so it has nothing to sweep with.
  if (!options.dryRun) {
    // The scheduler's jobs enter the outbox here, not through the intake: count them as planned too.
    const counted = {
      async enqueueOnce(onceKey: string, job: Job, at: number) {
        const enqueued = await store.enqueueOnce(onceKey, job, at);
        if (enqueued) metrics.jobsPlanned.inc({ kind: job.kind, target: job.target });
        return enqueued;
      },
    };
    const sweep = createAbandonedPrSweep({
      instances: () => running.instances,
      store: counted,
      cutoffHours: () => running.config.scheduler.abandonedPrCutoffHours,
      timeoutMs: () => running.config.outbox.timeoutMs,
      onEnqueued: () => worker.wake(),
      logger,
      stopSignal: stopController.signal,
    });
    const sweepMs = () => running.config.scheduler.abandonedPrSweepSeconds * 1000;
    tasks.push({ name: "abandoned-pr-sweep", intervalMs: sweepMs, jitterMs: () => sweepMs() / 10, run: () => sweep.run().then(() => undefined) });
    const promotionReconcile = createPromotionReconcile({
      instances: () => running.instances,
      store: counted,
      onEnqueued: () => worker.wake(),
      logger,
    });
    const reconcileMs = () => running.config.scheduler.promotionReconcileSeconds * 1000;
    tasks.push({ name: "promotion-reconcile", intervalMs: reconcileMs, jitterMs: () => reconcileMs() / 10, run: () => promotionReconcile.run().then(() => undefined) });
  }
  // One replica runs the scheduled tasks (a lease in the outbox; on SQLite this daemon always holds it).
  const leadership = createLeadership({ store, holder: (store as { holder?: string }).holder ?? `${hostname()}:${process.pid}`, ttlMs: SCHEDULER_LEASE_MS, logger });
  await leadership.renew();
  const led = tasks.map((task): PeriodicTask => ({ ...task, run: async () => (leadership.isLeader() ? task.run() : undefined) }));
  led.push({ name: "scheduler-lease", intervalMs: leadership.renewEveryMs, jitterMs: 0, run: () => leadership.renew() });
  const scheduler = createScheduler(led, logger);

  const promotions = createPromotionsApi({
    settings: () => ({ maxBodyBytes: running.config.server.maxBodyBytes, bearerTokens: running.config.bearerTokens, instances: running.instances }),
    async enqueue(name, request) {
      const gone = checkIdentity();
      if (gone) throw new IntakeUnavailableError(gone, 30);
      const instance = running.instances.find((candidate) => candidate.name === name);
      if (instance === undefined) throw new Error(`instance ${name} is gone`);
      const { onceKey, job } = promotionNewJob(instance, request);
      let queued: boolean;
      try {
        queued = await store.enqueueOnce(onceKey, job, Date.now());
      } catch (error) {
        if (!isStorageError(error)) throw error;
        storage.failed("intake", error);
        throw new IntakeUnavailableError("outbox storage failing: the request was not stored; retry later", 10);
      }
      if (queued) {
        metrics.jobsPlanned.inc({ kind: job.kind, target: job.target });
        worker.wake();
      }
      return queued;
    },
    logger,
  });
  const ui = createUi({
    reader: store.reader,
    instances: () => running.instances.map((instance) => ({ name: instance.name, environment: instance.config.environment, gitOpsAppURL: instance.config.gitOpsAppURL })),
    enabled: () => running.config.ui.enabled,
  });
  const app = createApp({
    ...(config.ui.port === undefined ? { ui } : {}),
    promotions,
    settings: () => running.settings,
    intake,
    translate,
    isDraining: () => draining,
    logger,
    metrics,
    readiness: async () => (draining ? { ready: false, reason: "draining" } : intake.readiness()),
  });

  const port = options.port ?? config.server.port;
  try {
    // Elysia asks Bun for SO_REUSEPORT by default, with which a second daemon would share the port unnoticed.
    app.listen({ hostname: config.server.host, port, reusePort: false });
  } catch (error) {
    await store.close();
    outbox.release();
    throw error;
  }
  const url = `http://${config.server.host}:${app.server?.port ?? port}`;
  // `ui.port`: the page and its API on a port of their own, so the webhook's need not expose them.
  const uiApp = config.ui.port === undefined ? undefined : createUiApp(ui, logger);
  if (uiApp) {
    try {
      uiApp.listen({ hostname: config.server.host, port: config.ui.port, reusePort: false });
    } catch (error) {
      void app.stop(true);
      await store.close();
      outbox.release();
      throw error;
    }
  }
  const uiUrl = uiApp ? `http://${config.server.host}:${uiApp.server?.port ?? config.ui.port}` : url;

  const reloader = createConfigReloader({
    load() {
      const loaded = options.reload();
      // A live daemon keeps its running config rather than take one that lacks a token its deliveries need.
      const next = loaded.ok && !options.dryRun ? requireTokens(loaded.config) : loaded;
      if (!next.ok) metrics.configReloads.inc({ result: "failure" });
      return next;
    },
    watchFile: options.watchFile,
    logger,
    onReload(next) {
      const previous = running.config;
      const needRestart = keysNeedingRestart(previous, next, options.port !== undefined);
      if (needRestart.length > 0) {
        logger.warn({ component: "config", keys: needRestart }, `changed, but take effect on restart only: ${needRestart.join(", ")}; everything else applies now`);
      }
      // pino's children follow their root's level, so a new logLevel applies at once (unless the CLI set one).
      const level = next.logLevel ?? "info";
      if (!options.logLevelFromCli && logger.level !== level) {
        logger.level = level;
        logger.info({ component: "config", logLevel: level }, "log level changed");
      }
      const schedulerChanged = JSON.stringify(next.scheduler) !== JSON.stringify(previous.scheduler);
      // The new config and its instances, in one step: every request and job from now on sees the new set.
      running = compile(next, compileDeps);
      redactor.setSecrets(next.secrets);
      worker.reconfigure(next.outbox);
      if (schedulerChanged) scheduler.replan();
      metrics.configReloads.inc({ result: "success" });
    },
  });

  worker.start();
  scheduler.start();
  reloader.start();
  logger.info(
    {
      component: "daemon",
      version: VERSION,
      url,
      ui: config.ui.enabled ? `${uiUrl}/` : false,
      dryRun: options.dryRun,
      outbox: outboxPath,
      pending: await store.pendingDepth(),
      config: config.source,
      instances: running.instances.map((instance) => instance.name),
    },
    `${PRODUCT} listening`,
  );

  let stopping: Promise<void> | undefined;
  return {
    url,
    outboxPath,
    reload: (trigger) => reloader.reload(trigger),
    stop(reason) {
      stopping ??= (async () => {
        draining = true;
        clearInterval(identityTimer);
        stopController.abort();
        logger.info({ component: "daemon", reason, inFlight: worker.inFlight() }, "stopping: webhooks now get 503; finishing deliveries in flight");
        reloader.stop();
        stopWakeups?.();
        const result = await worker.stop(running.config.server.shutdownGraceMs);
        await scheduler.stop();
        await app.stop(true);
        await uiApp?.stop(true);
        storage.stop();
        await store.releaseClaims();
        const pending = await store.pendingDepth();
        await store.close();
        outbox.release();
        logger.info({ component: "daemon", ...result, pending }, "stopped; pending jobs stay in the outbox");
      })();
      return stopping;
    },
  };
}
