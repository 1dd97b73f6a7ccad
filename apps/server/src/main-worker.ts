/** A worker of the distributed mode: run as many as the lists need, on as many machines. */
import { startDistributedRole } from './distributed-role';
import { taskSlots } from './worker-role';

const { config, logger, system } = await startDistributedRole('worker', { api: false, worker: true });
logger.info(
  {
    providers: system.providers.waterfall.join(','),
    concurrency: taskSlots(config, system.providers.available.length),
    process_id: system.processId,
  },
  'worker ready',
);
