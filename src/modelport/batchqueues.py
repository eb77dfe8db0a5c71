"""The batching queue of each model version, made on its first request and dropped when
idle, with the policy each version batches by (the server's, or its model.yaml's)."""

from __future__ import annotations

from concurrent.futures import Executor

from modelport.batching import BatchPolicy, BatchQueue
from modelport.metrics import Metrics
from modelport.modelcall import observer, run_model_call
from modelport.pace import PaceBook
from modelport.registry import ModelVersion
from modelport.slots import CallSlots

__all__ = ["BatchQueues"]

#: (model name, version, id of the runtime): a reloaded version gets a fresh queue, and a
#: batch never mixes models or versions.
QueueKey = tuple[str, int, int]


class BatchQueues:
    """Every model version's batching queue; event loop only (depths: any thread)."""

    def __init__(
        self,
        policy: BatchPolicy,
        batching: bool,
        pool: Executor,
        slots: CallSlots,
        observed: bool,
        metrics: Metrics | None,
    ) -> None:
        #: Server-wide batching limits, and whether models batch unless model.yaml says.
        self.policy = policy
        self.batching = batching
        self._pool = pool
        self._slots = slots
        #: Whether each model call is reported (metrics or traces on).
        self._observed = observed
        self._metrics = metrics
        self._queues: dict[QueueKey, BatchQueue[ModelVersion]] = {}
        #: Each model version's batched pace, kept while its queue comes and goes.
        self._paces = PaceBook(policy.max_wait_s)

    def queue_for(self, served: ModelVersion, rows: int) -> BatchQueue[ModelVersion] | None:
        """The queue for a request of ``rows`` rows, or None when it goes alone."""
        policy = self.policy_for(served)
        # A request that fills a batch on its own has nothing to gain from company, and
        # queueing it would only add a hop (measured: big requests are faster alone).
        if policy is None or rows >= policy.max_batch_size:
            return None
        key = (served.name, served.version, id(served.runtime))
        queue = self._queues.get(key)
        if queue is None or queue.policy != policy:
            queue = BatchQueue(
                f"model '{served.name}' version {served.version}",
                policy,
                run_model_call,
                self._pool,
                on_idle=lambda idle: self._forget(key, idle),
                on_call=observer(self._metrics) if self._observed else None,
                slots=(self._slots, served.name),
                pace=self._paces.of(key),
            )
            self._queues[key] = queue
        return queue

    def depths(self) -> dict[tuple[str, int], int]:
        """Requests waiting per model version now (called from the metrics thread)."""
        depths: dict[tuple[str, int], int] = {}
        # list() copies the dict in one step under the GIL while the loop may change it.
        for (name, version, _), queue in list(self._queues.items()):
            depths[name, version] = depths.get((name, version), 0) + queue.depth
        return depths

    def _forget(self, key: QueueKey, queue: BatchQueue[ModelVersion]) -> None:
        # An idle queue holds nothing worth keeping; dropping it lets unloaded models go.
        if self._queues.get(key) is queue:
            del self._queues[key]

    def policy_for(self, served: ModelVersion) -> BatchPolicy | None:
        """How ``served`` batches, or None when it does not."""
        own = served.batching
        if not (own.enabled if own.enabled is not None else self.batching):
            return None
        return BatchPolicy(
            own.max_batch_size or self.policy.max_batch_size,
            self.policy.max_latency_s if own.max_latency_ms is None else own.max_latency_ms / 1000,
            self.policy.max_queue_size,
            self.policy.max_wait_s,
        )
