package dev.kaze;

import dev.kaze.models.ModelsCommand;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

import java.util.Arrays;

/**
 * Kaze: text-to-video server for Wan2.1. {@code java -jar kaze.jar} starts the server;
 * {@code java -jar kaze.jar models …} fetches model files without starting it ({@link ModelsCommand}).
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class KazeApplication {
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("models"))
            System.exit(new ModelsCommand().run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err, System.getenv()));
        SpringApplication.run(KazeApplication.class, args);
    }
}
