import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates the topics listed in a topics file ("name partitions [key=value ...]" per line) that do not exist yet,
 * raises partition counts that are too low and sets the listed topic configs (retention.ms, retention.bytes, ...)
 * where they differ; never deletes or shrinks anything, and leaves configs the file does not name alone. One JVM for all topics
 * (TopicCommand would start one per topic). Used by infra/stack.sh:
 *
 *   java -cp ".kafka/broker/*:.stack/classes" EnsureTopics 127.0.0.1:9092 infra/topics.txt [name:partitions …]
 */
public class EnsureTopics {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: EnsureTopics <bootstrap> <topics-file|-> [name:partitions ...]");
            System.exit(2);
        }
        Map<String, Integer> wanted = new LinkedHashMap<>();
        Map<String, Map<String, String>> configs = new HashMap<>();
        if (!args[1].equals("-")) {
            int lineNo = 0;
            for (String raw : Files.readAllLines(Path.of(args[1]))) {
                lineNo++;
                String line = raw.replaceAll("#.*", "").trim();
                if (line.isEmpty()) continue;
                String[] parts = line.split("\\s+");
                if (parts.length < 2 || !parts[1].matches("[1-9][0-9]*")) {
                    fail(args[1] + ":" + lineNo + ": expected '<topic> <partitions> [key=value ...]', got '" + raw + "'");
                }
                wanted.put(parts[0], Integer.parseInt(parts[1]));
                Map<String, String> topicConfigs = new LinkedHashMap<>();
                for (int i = 2; i < parts.length; i++) {
                    String[] kv = parts[i].split("=", 2);
                    if (kv.length != 2 || kv[0].isEmpty()) fail(args[1] + ":" + lineNo + ": expected key=value, got '" + parts[i] + "'");
                    topicConfigs.put(kv[0], kv[1]);
                }
                configs.put(parts[0], topicConfigs);
            }
        }
        for (int i = 2; i < args.length; i++) {
            String[] parts = args[i].split(":");
            wanted.put(parts[0], Integer.parseInt(parts[1]));
        }

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "trackops-stack");
        try (Admin admin = Admin.create(props)) {
            Set<String> existing = admin.listTopics().names().get();
            List<NewTopic> toCreate = new ArrayList<>();
            for (var e : wanted.entrySet()) {
                if (!existing.contains(e.getKey())) toCreate.add(new NewTopic(e.getKey(), e.getValue(), (short) 1).configs(configs.getOrDefault(e.getKey(), Map.of())));
            }
            if (!toCreate.isEmpty()) {
                var result = admin.createTopics(toCreate);
                for (NewTopic t : toCreate) {
                    try {
                        result.values().get(t.name()).get();
                        System.out.println("created " + t.name() + " (" + t.numPartitions() + (t.numPartitions() == 1 ? " partition)" : " partitions)"));
                    } catch (ExecutionException ex) {
                        if (!(ex.getCause() instanceof TopicExistsException)) {
                            fail("could not create topic " + t.name() + ": " + ex.getCause());
                        }
                    }
                }
            }

            Map<String, TopicDescription> described = admin.describeTopics(wanted.keySet()).allTopicNames().get();
            Map<String, NewPartitions> raise = new HashMap<>();
            for (var e : wanted.entrySet()) {
                int have = described.get(e.getKey()).partitions().size();
                if (have < e.getValue()) {
                    raise.put(e.getKey(), NewPartitions.increaseTo(e.getValue()));
                    System.out.println("raising " + e.getKey() + " from " + have + " to " + e.getValue() + " partitions");
                } else if (have > e.getValue()) {
                    System.out.println("warning: " + e.getKey() + " has " + have + " partitions, the list says "
                        + e.getValue() + " (partitions cannot shrink; run stack.sh reset for a clean start)");
                }
            }
            if (!raise.isEmpty()) admin.createPartitions(raise).all().get();

            // Topic configs the file names and the broker holds differently (an existing topic, or a changed line).
            List<ConfigResource> resources = new ArrayList<>();
            for (String topic : wanted.keySet()) {
                if (!configs.getOrDefault(topic, Map.of()).isEmpty()) resources.add(new ConfigResource(ConfigResource.Type.TOPIC, topic));
            }
            if (!resources.isEmpty()) {
                Map<ConfigResource, Config> current = admin.describeConfigs(resources).all().get();
                Map<ConfigResource, java.util.Collection<AlterConfigOp>> changes = new HashMap<>();
                for (ConfigResource r : resources) {
                    List<AlterConfigOp> ops = new ArrayList<>();
                    for (var c : configs.get(r.name()).entrySet()) {
                        ConfigEntry have = current.get(r).get(c.getKey());
                        if (have == null || !c.getValue().equals(have.value())) {
                            ops.add(new AlterConfigOp(new ConfigEntry(c.getKey(), c.getValue()), AlterConfigOp.OpType.SET));
                            System.out.println("setting " + r.name() + " " + c.getKey() + "=" + c.getValue() + (have == null ? "" : " (was " + have.value() + ")"));
                        }
                    }
                    if (!ops.isEmpty()) changes.put(r, ops);
                }
                if (!changes.isEmpty()) admin.incrementalAlterConfigs(changes).all().get();
            }
            System.out.println("ok: " + wanted.size() + " topics present");
        }
    }

    private static void fail(String message) {
        System.err.println(message);
        System.exit(1);
    }
}
