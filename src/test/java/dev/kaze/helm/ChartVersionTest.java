package dev.kaze.helm;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathFactory;

import static org.assertj.core.api.Assertions.assertThat;

/** The chart deploys the release it is built with: Chart.yaml's appVersion is the pom's version. */
class ChartVersionTest {

    @Test
    void appVersionIsTheProjectVersion() throws Exception {
        Document pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(KazeChart.CHART.resolve("../../pom.xml").toFile());
        String projectVersion = XPathFactory.newInstance().newXPath().evaluate("/project/version", pom).strip();
        String appVersion = Manifests.STRICT.readTree(KazeChart.CHART.resolve("Chart.yaml").toFile()).path("appVersion").asText();
        assertThat(projectVersion).isNotEmpty();
        assertThat(appVersion).as("helm/kaze/Chart.yaml appVersion").isEqualTo(projectVersion);
    }
}
