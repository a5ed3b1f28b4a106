/** Worker thread of V2: scans one byte range of the tape and posts its totals. */
import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { scanRange, type Layout } from './v2';

const { file, start, end, layout, fault } = workerData as {
  file: string;
  start: number;
  end: number;
  layout: Layout;
  fault: boolean;
};
const fd = openSync(file, 'r');
try {
  parentPort?.postMessage(scanRange(fd, start, end, layout, 0, fault));
} finally {
  closeSync(fd);
}
