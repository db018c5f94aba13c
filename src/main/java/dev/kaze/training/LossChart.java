package dev.kaze.training;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.function.DoubleUnaryOperator;

/**
 * The loss curve of a run as a PNG ({@code {output_name}-loss.png}): every step's loss (thin, light)
 * and the moving average (thick, dark) against the step, with labelled axes, tick values and a
 * legend; the validation losses, when there are any, as green points joined by a line; drawn with Java2D
 * (headless) on a white background.
 */
final class LossChart {
    static final int WIDTH = 800, HEIGHT = 450;
    static final Color BACKGROUND = Color.WHITE;
    private LossChart() {}

    static final Color VALIDATION = new Color(30, 150, 60);

    static void write(List<TrainingLog.Entry> entries, String title, Path file) { write(entries, List.of(), title, file); }

    static void write(List<TrainingLog.Entry> entries, List<TrainingLog.Validation> validations, String title, Path file) {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(BACKGROUND);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            int left = 80, right = WIDTH - 20, top = 40, bottom = HEIGHT - 60;
            double minStep = entries.isEmpty() ? 0 : entries.getFirst().step(), maxStep = entries.isEmpty() ? 1 : entries.getLast().step();
            if (maxStep <= minStep) maxStep = minStep + 1;
            double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
            for (TrainingLog.Entry e : entries)
                for (double v : new double[]{e.loss(), e.avgLoss()})
                    if (Double.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
            for (TrainingLog.Validation v : validations)
                if (Double.isFinite(v.loss())) { lo = Math.min(lo, v.loss()); hi = Math.max(hi, v.loss()); }
            if (!(hi >= lo)) { lo = 0; hi = 1; }
            if (hi - lo < 1e-12) { lo -= 0.5 * Math.max(1e-6, Math.abs(lo)); hi += 0.5 * Math.max(1e-6, Math.abs(hi)); }
            double pad = (hi - lo) * 0.05;
            lo -= pad;
            hi += pad;

            g.setColor(Color.DARK_GRAY);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
            g.drawString(title, left, 24);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            g.setStroke(new BasicStroke(1f));
            for (int i = 0; i <= 4; i++) {      // grid and tick values
                int y = bottom - (bottom - top) * i / 4;
                int x = left + (right - left) * i / 4;
                g.setColor(new Color(225, 225, 225));
                g.drawLine(left, y, right, y);
                g.drawLine(x, top, x, bottom);
                g.setColor(Color.DARK_GRAY);
                g.drawString(String.format("%.4g", lo + (hi - lo) * i / 4), 8, y + 4);
                g.drawString(Long.toString(Math.round(minStep + (maxStep - minStep) * i / 4)), x - 10, bottom + 16);
            }
            g.setColor(Color.BLACK);
            g.drawLine(left, bottom, right, bottom);
            g.drawLine(left, top, left, bottom);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            g.drawString("step", (left + right) / 2 - 12, HEIGHT - 20);
            AffineTransform saved = g.getTransform();
            g.rotate(-Math.PI / 2);
            g.drawString("loss", -(top + bottom) / 2 - 12, 20);
            g.setTransform(saved);

            double fMinStep = minStep, fMaxStep = maxStep, fLo = lo, fHi = hi;
            DoubleUnaryOperator px = s -> left + (s - fMinStep) / (fMaxStep - fMinStep) * (right - left);
            DoubleUnaryOperator py = v -> bottom - (v - fLo) / (fHi - fLo) * (bottom - top);
            Color lossColor = new Color(120, 170, 230), avgColor = new Color(200, 60, 30);
            for (int series = 0; series < 2; series++) {
                Path2D.Double path = new Path2D.Double();
                boolean started = false;
                for (TrainingLog.Entry e : entries) {
                    double v = series == 0 ? e.loss() : e.avgLoss();
                    if (!Double.isFinite(v)) continue;
                    double x = px.applyAsDouble(e.step()), y = py.applyAsDouble(v);
                    if (!started) { path.moveTo(x, y); started = true; } else path.lineTo(x, y);
                }
                g.setColor(series == 0 ? lossColor : avgColor);
                g.setStroke(new BasicStroke(series == 0 ? 1f : 2.5f));
                if (started) g.draw(path);
                if (entries.size() == 1 && started) g.fillOval((int) px.applyAsDouble(entries.getFirst().step()) - 3, (int) path.getCurrentPoint().getY() - 3, 6, 6);
            }
            if (!validations.isEmpty()) {
                Path2D.Double path = new Path2D.Double();
                boolean started = false;
                g.setColor(VALIDATION);
                g.setStroke(new BasicStroke(1.5f));
                for (TrainingLog.Validation v : validations) {
                    if (!Double.isFinite(v.loss())) continue;
                    double x = px.applyAsDouble(v.step()), y = py.applyAsDouble(v.loss());
                    if (!started) { path.moveTo(x, y); started = true; } else path.lineTo(x, y);
                    g.fillOval((int) x - 4, (int) y - 4, 8, 8);
                }
                if (started) g.draw(path);
                g.fillRect(right - 300, top + 8, 18, 4);
                g.setColor(Color.DARK_GRAY);
                g.drawString("validation", right - 275, top + 14);
            }
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));   // legend
            g.setColor(lossColor);
            g.fillRect(right - 190, top + 8, 18, 4);
            g.setColor(Color.DARK_GRAY);
            g.drawString("loss", right - 165, top + 14);
            g.setColor(avgColor);
            g.fillRect(right - 120, top + 8, 18, 4);
            g.setColor(Color.DARK_GRAY);
            g.drawString("moving average", right - 95, top + 14);
        } finally {
            g.dispose();
        }
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            ImageIO.write(img, "png", tmp.toFile());
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the loss chart " + file + ": " + e.getMessage(), e);
        }
    }
}
