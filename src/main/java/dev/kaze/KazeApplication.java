package dev.kaze;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/** Kaze: text-to-video server for Wan2.1. */
@SpringBootApplication
@ConfigurationPropertiesScan
public class KazeApplication {
    public static void main(String[] args) {
        SpringApplication.run(KazeApplication.class, args);
    }
}
