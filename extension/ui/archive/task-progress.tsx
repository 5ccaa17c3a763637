// Long work the user can see and stop (indexing, a backup's import, a page's long history): a
// count and a bar per task, with a cancel button. Asks the background for its tasks while the
// page is open; shows nothing when there are none.
import { useEffect, useState } from 'preact/hooks';
import type { TaskProgress } from '../../messaging/archive-messages';
import { t, type MessageKey } from '../i18n';
import { archiveMessage } from './archive-client';
import './archive.css';

/** How often the list is asked for while a page shows it. */
export const TASKS_EVERY_MS = 700;

const KIND: Record<TaskProgress['kind'], MessageKey> = {
  indexing: 'task_indexing',
  'backup-import': 'task_backup_import',
  'page-history': 'task_page_history',
};

let numbers: Intl.NumberFormat | undefined;
const fmt = (n: number) => (numbers ??= new Intl.NumberFormat()).format(n);

export function TaskList() {
  const [tasks, setTasks] = useState<TaskProgress[]>([]);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const reply = await archiveMessage({ type: 'tasks' });
        if (!stopped) setTasks(reply.tasks);
      } catch {
        // Locked, or a background without the archive: no tasks to show.
        if (!stopped) setTasks([]);
      }
      if (!stopped) timer = setTimeout(() => void poll(), TASKS_EVERY_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  const cancel = async (id: string) => {
    try {
      setTasks((await archiveMessage({ type: 'cancelTask', id })).tasks);
    } catch {
      // Already finished: the next poll shows the list as it is.
    }
  };
  if (tasks.length === 0) return null;
  return (
    <ul class="task-list" aria-label={t('tasks_label')}>
      {tasks.map((task) => (
        <TaskRow key={task.id} task={task} onCancel={() => void cancel(task.id)} />
      ))}
    </ul>
  );
}

export function TaskRow(props: { task: TaskProgress; onCancel(): void }) {
  const { task } = props;
  const total = Math.max(task.total, task.done, 0);
  const label = t(KIND[task.kind] ?? 'task_indexing');
  return (
    <li
      class="task"
      data-veil="archive-progress"
      data-veil-kind={task.kind}
      data-veil-done={String(task.done)}
      data-veil-total={String(total)}
    >
      <span class="task-label">
        {label}
        <span class="muted"> {t('task_count', [fmt(task.done), fmt(total)])}</span>
      </span>
      <progress max={total || 1} value={Math.min(task.done, total)} aria-label={label} />
      <button
        type="button"
        class="button quiet"
        data-veil="archive-cancel"
        onClick={props.onCancel}
      >
        {t('cancel')}
      </button>
    </li>
  );
}
