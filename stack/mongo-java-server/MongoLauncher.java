import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;
import org.h2.mvstore.MVStore;

import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Runs mongo-java-server on a chosen host and port (0 picks a free one), which its own main classes
 * cannot do: they bind 127.0.0.1:27017 only.
 *
 * Usage: MongoLauncher <host> <port> memory
 *        MongoLauncher <host> <port> h2 <file> [fsync|commit|timer]
 *
 * H2 durability (default fsync):
 *   fsync   every command that changed data is committed to the file and the file is forced to the
 *           disk before its reply is sent: an acknowledged write survives a crash of the process or
 *           of the machine.
 *   commit  committed to the file (the OS page cache) before the reply, not forced: survives a crash
 *           of the process, not of the machine.
 *   timer   H2's own background commit, about once a second: a crash loses the last second of
 *           acknowledged writes (mongo-java-server's default; kept to measure the difference).
 *
 * Prints one line "LISTENING <host>:<port>" once it accepts connections and stops on SIGINT/SIGTERM.
 */
public final class MongoLauncher {
  public static void main(String[] args) throws Exception {
    if (args.length < 3 || (args[2].equals("h2") && args.length < 4)) {
      System.err.println("usage: MongoLauncher <host> <port> memory | MongoLauncher <host> <port> h2 <file> [fsync|commit|timer]");
      System.exit(64);
    }
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    MongoBackend backend;
    switch (args[2]) {
      case "memory":
        backend = new MemoryBackend();
        break;
      case "h2":
        String durability = args.length > 4 ? args[4] : "fsync";
        switch (durability) {
          case "timer":
            backend = new H2Backend(args[3]);
            break;
          case "fsync":
          case "commit":
            backend = new CommitPerWriteH2Backend(args[3], durability.equals("fsync"));
            break;
          default:
            System.err.println("unknown H2 durability: " + durability + " (fsync, commit or timer)");
            System.exit(64);
            return;
        }
        break;
      default:
        System.err.println("unknown backend: " + args[2] + " (memory or h2)");
        System.exit(64);
        return;
    }
    MongoServer server = new MongoServer(backend);
    server.bind(host, port);
    InetSocketAddress bound = server.getLocalAddress();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // shutdownNow closes the backend, which for H2 commits and closes the store file.
      server.shutdownNow();
      stopped.countDown();
    }));
    System.out.println("LISTENING " + bound.getHostString() + ":" + bound.getPort());
    System.out.flush();

    stopped.await();
  }

  /**
   * The H2 backend with its MVStore's background auto-commit turned off: a command's changes are
   * committed (and, with sync, forced to the disk) after the command ran and before its reply goes
   * out, since the reply is what the driver counts as the acknowledgement.
   *
   * Commands run under the read side of a lock and a commit takes the write side, so a commit never
   * writes a command's changes half done (a document without its index entries, say): what is on
   * the disk is always the state between whole commands. Commits of commands that finish together
   * are shared: whoever gets the lock first commits everything, the others find nothing to do.
   */
  static final class CommitPerWriteH2Backend extends H2Backend {
    private final MVStore store;
    private final boolean sync;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** A command may run others (handleMessage runs handleCommand); only the outermost commits. */
    private final ThreadLocal<int[]> depth = ThreadLocal.withInitial(() -> new int[1]);
    private final ScheduledExecutorService housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "h2-housekeeping");
      t.setDaemon(true);
      return t;
    });

    CommitPerWriteH2Backend(String file, boolean sync) {
      this(new MVStore.Builder().fileName(file).autoCommitDisabled().open(), sync);
    }

    private CommitPerWriteH2Backend(MVStore store, boolean sync) {
      super(store);
      this.store = store;
      this.sync = sync;
      // MVStore keeps dead chunks 45 s before reusing their space, in case the OS has not yet written
      // the newer ones. A commit per write makes hundreds of chunks a second, and the file grew by
      // 45 s of them (49 MB after 3,000 small updates). Forced after every commit, newer chunks are
      // on the disk at once, so a second is plenty.
      if (sync) store.setRetentionTime(1000);
      // autoCommitDisabled also stops the background thread that rewrites sparse chunks. Done here
      // under the write lock instead, so its commit too holds whole commands only.
      housekeeping.scheduleWithFixedDelay(this::compact, 30, 30, TimeUnit.SECONDS);
    }

    @Override
    public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
      int[] d = depth.get();
      lock.readLock().lock();
      d[0]++;
      try {
        return super.handleCommand(channel, databaseName, command, query);
      } finally {
        d[0]--;
        lock.readLock().unlock();
        // Also after a failed command: an ordered insert that fails half way has written its first
        // documents, and the error reply acknowledges them.
        if (d[0] == 0) commitChanges();
      }
    }

    private void commitChanges() {
      if (!store.hasUnsavedChanges()) return;
      lock.writeLock().lock();
      try {
        if (store.hasUnsavedChanges()) {
          commit();
          // MVStore.commit() writes the chunk but never forces the file channel; sync() does.
          if (sync) store.sync();
        }
      } finally {
        lock.writeLock().unlock();
      }
    }

    private void compact() {
      lock.writeLock().lock();
      try {
        if (store.isClosed() || store.getFillRate() >= 50) return;
        store.compact(50, 16 * 1024 * 1024);
        if (store.hasUnsavedChanges()) {
          commit();
          if (sync) store.sync();
        }
      } catch (RuntimeException e) {
        System.err.println("H2 compaction failed: " + e);
      } finally {
        lock.writeLock().unlock();
      }
    }

    @Override
    public void close() {
      housekeeping.shutdownNow();
      lock.writeLock().lock();
      try {
        super.close();
      } finally {
        lock.writeLock().unlock();
      }
    }
  }
}
