/**
 * The CLI's commands, one file each (client/commands/<group>/<command>.ts, each `register(program)`), in the
 * order `cutover --help` lists them.
 */
import type { Command } from 'commander';
import { register as planValidate } from './plan/validate';
import { register as planSchema } from './plan/schema';
import { register as planInit } from './plan/init';
import { register as planSign } from './plan/sign';
import { register as cutoverStart } from './cutover/start';
import { register as cutoverStatus } from './cutover/status';
import { register as cutoverDecide } from './cutover/decide';
import { register as cutoverBreakGlass } from './cutover/break-glass';
import { register as cutoverRollback } from './cutover/rollback';
import { register as cutoverWhatIf } from './cutover/what-if';
import { register as cutoverCancel } from './cutover/cancel';
import { register as cutoverList } from './cutover/list';
import { register as cutoverReport } from './cutover/report';
import { register as referenceSet } from './reference/set';
import { register as referenceMarkBad } from './reference/mark-bad';
import { register as referenceList } from './reference/list';
import { register as recordExport } from './record/export';
import { register as recordVerify } from './record/verify';
import { register as dbtBuild } from './dbt/build';
import { register as dbtDataset } from './dbt/dataset';
import { register as dbtProbe } from './dbt/probe';
import { register as dbtDrop } from './dbt/drop';
import { register as dbtPublish } from './dbt/publish';
import { register as servicesKeygen } from './services/keygen';
import { register as servicesCodecServer } from './services/codec-server';
import { register as servicesServe } from './services/serve';
import { register as servicesDev } from './services/dev';
import { register as servicesWorker } from './services/worker';

export function registerCommands(program: Command): void {
  const plan = program.command('plan').description('work with plan files');
  planValidate(plan);
  planSchema(plan);
  planInit(plan);
  planSign(plan);
  cutoverStart(program);
  cutoverStatus(program);
  cutoverDecide(program);
  cutoverBreakGlass(program);
  cutoverRollback(program);
  cutoverWhatIf(program);
  cutoverCancel(program);
  cutoverList(program);
  cutoverReport(program);
  const reference = program
    .command('reference')
    .description(
      "reference runs: the pinned run per pipeline that later cutovers' shadow and stress are shown against",
    );
  referenceSet(reference);
  referenceMarkBad(reference);
  referenceList(reference);
  recordExport(program);
  recordVerify(program);
  const dbt = program
    .command('dbt')
    .description("a dbt project's versions built, published and dropped: the actions of a dbt cutover's plan");
  dbtBuild(dbt);
  dbtPublish(dbt);
  dbtDrop(dbt);
  dbtDataset(dbt);
  dbtProbe(dbt);
  servicesKeygen(program);
  servicesCodecServer(program);
  servicesServe(program);
  servicesDev(program);
  servicesWorker(program);
}
