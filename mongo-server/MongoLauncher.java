import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;

/**
 * Runs mongo-java-server on a chosen host and port (0 picks a free one), which its own main classes
 * cannot do: they bind 127.0.0.1:27017 only.
 *
 * Usage: MongoLauncher <host> <port> memory
 *        MongoLauncher <host> <port> h2 <file>
 *
 * Prints one line "LISTENING <host>:<port>" once it accepts connections and stops on SIGINT/SIGTERM.
 */
public final class MongoLauncher {
  public static void main(String[] args) throws Exception {
    if (args.length < 3 || (args[2].equals("h2") && args.length < 4)) {
      System.err.println("usage: MongoLauncher <host> <port> memory | MongoLauncher <host> <port> h2 <file>");
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
        backend = new H2Backend(args[3]);
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
}
