# Source of answers_math_holdout.jsonl: a second labelled set, written after the checker was built
# and never used to tune it (run: python3 benchmarks/data/answers_math_holdout_source.py OUT.jsonl).
import json
import sys
cases = []
def C(cat, rationale, gold, expected, reason):
    cases.append(dict(category=cat, rationale=rationale, gold=gold, expected=expected, reason=reason))


def B(a):
    return f"Putting everything together, we obtain\n\\[\n\\boxed{{{a}}}\n\\]"


def Q(a):
    return f"Let me verify the computation once more.\n\nSo the final result is $\\boxed{{{a}}}$."


# model outputs vs MATH gold answers
pairs = [
 ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", "correct", "rationalised unit fraction"),
 ("\\frac{\\sqrt{3}}{3}", "\\frac{\\sqrt{3}}{2}", "wrong", "different denominator"),
 ("y = -\\frac{1}{2}x + 3", "y=-\\frac12x+3", "correct", "line, shorthand frac"),
 ("y = -\\frac{1}{2}x + 3", "y=-\\frac12x-3", "wrong", "line, intercept sign"),
 ("x^3-2x+1", "1-2x+x^3", "correct", "polynomial reordered"),
 ("x^3-2x+1", "x^3-2x-1", "wrong", "polynomial constant changed"),
 ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\left( 3, \\frac{\\pi}{2} \\right)", "correct", "polar point identical"),
 ("\\left(3,\\frac{\\pi}{2}\\right)", "(3, \\frac{\\pi}{2})", "correct", "polar point left/right"),
 ("(3, \\frac{\\pi}{2})", "(3, \\frac{\\pi}{4})", "wrong", "polar angle changed"),
 ("1011_2", "1011_2", "correct", "base subscript identical"),
 ("1011_2", "1101_2", "wrong", "base digits changed"),
 ("\\$32", "32", "correct", "escaped dollar"),
 ("\\$1.25", "\\$1.25", "correct", "money"),
 ("\\$1.25", "1.52", "wrong", "money digits swapped"),
 ("\\text{(B)}", "\\text{(B)}", "correct", "choice"),
 ("B", "\\text{(B)}", "correct", "bare letter vs text choice"),
 ("\\text{(D)}", "\\text{(B)}", "wrong", "other choice"),
 ("\\begin{pmatrix} -1 \\\\ 2 \\\\ 5 \\end{pmatrix}", "\\begin{pmatrix} -1 \\\\ 2 \\\\ 5 \\end{pmatrix}", "correct", "3-vector"),
 ("\\begin{pmatrix}-1\\\\2\\\\5\\end{pmatrix}", "\\begin{pmatrix} -1 \\\\ 5 \\\\ 2 \\end{pmatrix}", "wrong", "3-vector permuted"),
 ("\\begin{pmatrix} 2/3 \\\\ 1 \\end{pmatrix}", "\\begin{pmatrix} \\frac{2}{3} \\\\ 1 \\end{pmatrix}", "correct", "vector slash fraction"),
 ("\\begin{pmatrix} 0 & 1 \\\\ -1 & 0 \\end{pmatrix}", "\\begin{pmatrix} 0 & 1 \\\\ -1 & 0 \\end{pmatrix}", "correct", "rotation matrix"),
 ("\\begin{pmatrix} 0 & -1 \\\\ 1 & 0 \\end{pmatrix}", "\\begin{pmatrix} 0 & 1 \\\\ -1 & 0 \\end{pmatrix}", "wrong", "rotation matrix other way"),
 ("[-2, 7]", "[-2,7]", "correct", "closed interval"),
 ("(-2, 7]", "[-2,7]", "wrong", "interval end"),
 ("(-\\infty,-2]\\cup[2,\\infty)", "(-\\infty, -2] \\cup [2, \\infty)", "correct", "union spacing"),
 ("(-\\infty,-2)\\cup(2,\\infty)", "(-\\infty, -2] \\cup [2, \\infty)", "wrong", "union ends open"),
 ("\\{-2, 0, 2\\}", "-2, 0, 2", "correct", "set vs list"),
 ("-2,0,2", "0, 2, -2", "correct", "solution order"),
 ("-2,0,2", "-2, 2", "wrong", "missing zero"),
 ("3\\sqrt{5}", "\\sqrt{45}", "correct", "surd"),
 ("3\\sqrt{5}", "5\\sqrt{3}", "wrong", "surd swapped"),
 ("\\frac{5}{\\sqrt{10}}", "\\frac{\\sqrt{10}}{2}", "correct", "rationalise"),
 ("2\\sqrt{2}-2", "2(\\sqrt2-1)", "correct", "factor surd"),
 ("\\frac{9\\pi}{2}", "4.5\\pi", "correct", "decimal pi coefficient"),
 ("\\frac{9\\pi}{2}", "\\frac{9}{2}", "wrong", "pi missing"),
 ("36\\pi", "36 \\pi", "correct", "spacing"),
 ("\\frac{1}{16}", "0.0625", "correct", "exact decimal"),
 ("\\frac{7}{16}", "\\frac{7}{15}", "wrong", "denominator off by one"),
 ("-\\frac{7}{2}", "-3.5", "correct", "negative decimal"),
 ("\\frac{-7}{2}", "\\frac{7}{-2}", "correct", "sign in denominator"),
 ("\\frac{7}{2}", "-\\frac72", "wrong", "sign"),
 ("10\\%", "10", "correct", "percent"),
 ("\\$1,\\!200", "1200", "correct", "thousands with \\!"),
 ("1,\\!000,\\!000", "10^6", "correct", "million thousands"),
 ("4096", "2^{12}", "correct", "power of two"),
 ("4095", "2^{12}", "wrong", "off by one"),
 ("\\dfrac{3}{4}", "\\frac{3}{4}", "correct", "dfrac"),
 ("\\tfrac34", "0.75", "correct", "tfrac shorthand"),
 ("x=-3", "-3", "correct", "assignment"),
 ("x = -3 \\text{ or } x = 2", "2, -3", "correct", "two roots"),
 ("x = -3 \\text{ or } x = 2", "-3", "wrong", "missing root"),
 ("k=\\pm 4", "4,-4", "correct", "pm roots"),
 ("k=\\pm 4", "4", "wrong", "pm vs single"),
 ("a=2, b=-1", "(2,-1)", "correct", "two assignments"),
 ("(a,b)=(2,-1)", "(2,-1)", "correct", "tuple assignment"),
 ("(a,b)=(2,-1)", "(-1,2)", "wrong", "tuple assignment reversed"),
 ("8\\text{ cm}", "8", "correct", "unit cm"),
 ("8 \\text{ cm}^2", "8", "correct", "unit cm squared"),
 ("12 \\text{ inches}", "12", "correct", "inches"),
 ("45^\\circ", "45", "correct", "degrees"),
 ("45^{\\circ}", "135", "wrong", "supplement"),
 ("\\text{Tuesday}", "\\text{Tuesday}", "correct", "day name"),
 ("\\text{Tuesday}", "\\text{Thursday}", "wrong", "day name differs"),
 ("\\text{No}", "\\text{no}", "correct", "yes/no case"),
 ("e^{2}", "e^2", "correct", "e power"),
 ("\\ln 2", "\\ln(2)", "correct", "log argument parentheses"),
 ("\\log_2 5", "\\log_{2}5", "correct", "log base braces"),
 ("\\sin x", "\\sin(x)", "correct", "sin argument"),
 ("2\\sin x\\cos x", "2\\sin(x)\\cos(x)", "correct", "trig product"),
 ("\\frac{\\pi}{3}", "60^\\circ", "wrong", "radians vs degrees (stay wrong)"),
 ("0.\\overline{3}", "\\frac13", "correct", "repeating decimal notation"),
 ("\\frac{2}{3}", "0.\\overline{6}", "correct", "repeating decimal gold"),
 ("\\frac{1}{3}", "0.\\overline{6}", "wrong", "repeating decimal wrong"),
 ("5i", "5i", "correct", "imaginary"),
 ("-1+2i", "2i-1", "correct", "complex reorder"),
 ("-1+2i", "-1-2i", "wrong", "conjugate"),
 ("\\frac{3+4i}{5}", "\\frac35+\\frac45i", "correct", "complex split"),
 ("\\binom{6}{2}", "15", "correct", "binomial"),
 ("\\dbinom{6}{2}", "15", "correct", "dbinom"),
 ("5!", "120", "correct", "factorial"),
 ("x \\in (-3, 5)", "(-3,5)", "correct", "in open interval"),
 ("-3 < x < 5", "(-3,5)", "correct", "double inequality"),
 ("x > 5", "x \\geq 5", "wrong", "strict vs non-strict"),
 ("x \\geq 5", "x\\ge5", "correct", "geq vs ge"),
 ("m \\leq \\frac{1}{4}", "(-\\infty, \\frac{1}{4}]", "correct", "le fraction interval"),
 ("(x-3)^2+(y+1)^2=25", "(x-3)^2 + (y+1)^2 = 25", "correct", "circle"),
 ("(x-3)^2+(y+1)^2=25", "x^2-6x+y^2+2y-15=0", "correct", "circle expanded"),
 ("(x-3)^2+(y+1)^2=25", "(x+3)^2+(y-1)^2=25", "wrong", "circle centre sign"),
 ("\\frac{x^2}{4}+\\frac{y^2}{9}=1", "9x^2+4y^2=36", "correct", "ellipse scaled"),
 ("y=x^2-4x+3", "y=(x-1)(x-3)", "correct", "parabola factored"),
 ("f(x) = 2x-5", "2x-5", "correct", "function definition"),
 ("f^{-1}(x)=\\frac{x+5}{2}", "\\frac{x+5}{2}", "correct", "inverse function"),
 ("\\frac{x+5}{2}", "\\frac{x-5}{2}", "wrong", "inverse sign"),
 ("2^{2010}", "2^{2010}", "correct", "huge power identical"),
 ("2^{2010}", "2^{2011}", "wrong", "huge power different"),
 ("\\frac{1}{2^{10}}", "2^{-10}", "correct", "negative exponent"),
 ("\\sqrt{2}/2", "\\frac{\\sqrt2}{2}", "correct", "slash with sqrt"),
 ("\\frac{1+\\sqrt{5}}{2}", "\\frac{1-\\sqrt{5}}{2}", "wrong", "conjugate root"),
 ("\\frac{-1 \\pm \\sqrt{5}}{2}", "\\frac{-1+\\sqrt5}{2}, \\frac{-1-\\sqrt5}{2}", "correct", "pm fraction"),
 ("4\\sqrt{3}\\pi", "4\\pi\\sqrt3", "correct", "surd pi order"),
 ("\\pi^2", "\\pi \\cdot \\pi", "correct", "pi squared"),
 ("\\frac{1}{4}", "25\\%", "correct", "a fraction against the percentage it equals"),
 ("0.25", "\\frac{1}{4}", "correct", "quarter"),
 ("1.5", "\\frac{3}{2}", "correct", "three halves"),
 ("1.50", "1.5", "correct", "trailing zero"),
 ("2.718", "e", "wrong", "rounded e"),
 ("-\\infty", "-\\infty", "correct", "infinity"),
 ("\\infty", "-\\infty", "wrong", "infinity sign"),
 ("\\emptyset", "\\{\\}", "correct", "empty set"),
 ("\\text{none}", "\\text{None}", "correct", "none case"),
 ("6", "\\text{6}", "correct", "text-wrapped number"),
 ("\\mathbf{6}", "6", "correct", "bold number"),
 ("{6}", "6", "correct", "braced number"),
 ("6.", "6", "correct", "trailing period"),
 ("\\left\\{1,3\\right\\}", "\\{1,3\\}", "correct", "left brace set"),
 ("\\{1,3\\}", "\\{1,3,5\\}", "wrong", "set size"),
 ("a+b+c", "c+b+a", "correct", "commutative sum"),
 ("ab+bc+ca", "ab+bc+ac", "correct", "commutative product"),
 ("abc", "ab+c", "wrong", "product vs sum"),
 ("3^{\\frac{5}{2}}", "9\\sqrt3", "correct", "fractional power"),
 ("8^{2/3}", "4", "correct", "two-thirds power"),
 ("\\sqrt[4]{16}", "2", "correct", "fourth root"),
 ("\\sqrt{x^2}", "x", "wrong", "sqrt of square is |x| (unknown) -- not accepted"),
]
for k, (p, g, e, why) in enumerate(pairs):
    C("math", (B if k % 2 else Q)(p), g, e, why)

# extraction styles seen in model outputs
E = "extraction"
C(E, "The sum is 12.\n\n**Final Answer**\n\\[ \\boxed{12} \\]", "12", "correct", "R1 final answer block")
C(E, "## Step 3: Conclude\nThe final answer is: $\\boxed{\\frac{5}{3}}$", "\\frac53", "correct", "Llama step format")
C(E, "## Step 3: Conclude\nThe final answer is: $\\boxed{\\frac{5}{3}}$", "\\frac35", "wrong", "Llama step format wrong")
C(E, "Thus, the number of ways is \\(\\boxed{210}\\).", "210", "correct", "boxed inside \\( \\)")
C(E, "Hence $x = 4$ and $y = 7$, so $x + y = 11$.", "11", "correct", "last inline math sum")
C(E, "Hence $x = 4$ and $y = 7$, so $x + y = 11$.", "7", "wrong", "earlier inline value")
C(E, "Therefore there are 24 possible values of $n$.", "24", "correct", "variable after the number is not the answer")
C(E, "The largest prime factor of $1001$ is $13$.", "13", "correct", "last inline number")
C(E, "The answer is $\\boxed{4}$ because $2^2=4$.", "4", "correct", "box followed by justification math")
C(E, "We obtain $\\boxed{x^2+1}$.", "x^2+1", "correct", "boxed polynomial")
C(E, "So the answer is $-\\frac{3}{2}$.", "-1.5", "correct", "answer is inline")
C(E, "So $f(3) = \\boxed{10}$, and $f(4) = \\boxed{17}$", "10, 17", "correct", "two boxes joined by and")
C(E, "Initially I thought $\\boxed{6}$, but I made an error. The correct count is $\\boxed{8}$.", "8", "correct", "corrected box")
C(E, "Initially I thought $\\boxed{6}$, but I made an error. The correct count is $\\boxed{8}$.", "6", "wrong", "first box is not the answer")
C(E, "</think>\n\nThe minimum value is $\\boxed{-\\frac{9}{4}}$.", "-\\frac94", "correct", "after think")
C(E, "<think>I get 5</think>The minimum is $\\boxed{-2}$.", "5", "wrong", "thinking answer ignored")
C(E, "Answer: (C)", "C", "correct", "choice label")
C(E, "The correct option is \\textbf{(E)}.", "E", "correct", "bold option at end")
C(E, "Therefore, $\\angle BAC = \\boxed{30^\\circ}$.", "30", "correct", "boxed degrees")
C(E, "The sum of the roots is $-\\frac{b}{a} = -\\frac{-6}{2} = 3$.", "3", "correct", "long chain")
C(E, "The sum of the roots is $-\\frac{b}{a} = -\\frac{-6}{2} = 3$.", "-3", "wrong", "long chain sign")
C(E, "The probability is \\[\\frac{5}{36}.\\]", "\\frac{5}{36}", "correct", "display with period")
C(E, "The remainder when $2^{100}$ is divided by 7 is 2.", "2", "correct", "plain number after math")
C(E, "The remainder when $2^{100}$ is divided by 7 is 2.", "100", "wrong", "exponent is not the answer")
C(E, "Final answer: 42", "42", "correct", "final answer label lowercase")
C(E, "I hope it is correct. Final Answer: The final answer is $3\\sqrt{2}$. I hope it is correct.", "\\sqrt{18}", "correct", "Minerva surd")

# GSM8K-style negatives / no-regression
G = "gsm8k"
for r, g, e, why in [
    ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day at the farmer's market.\n#### 18", "18", "correct", "gsm8k reference"),
    ("She makes 9 * 2 = $18 every day.\n#### 18", "16", "wrong", "gsm8k wrong"),
    ("It takes 2/2=<<2/2=1>>1 bolt of white fiber\nSo the total amount of fabric is 2+1=<<2+1=3>>3 bolts of fabric\n#### 3", "3", "correct", "gsm8k"),
    ("The cost is $3 per pound and he buys 4 pounds, so he pays $12. Then he pays $5 for delivery, for a total of $17.", "17", "correct", "currency dollars not math"),
    ("The cost is $3 per pound and he buys 4 pounds, so he pays $12. Then he pays $5 for delivery, for a total of $17.", "12", "wrong", "currency earlier amount"),
    ("He earned $20 on Monday and $30 on Tuesday, which makes $50 in total.", "50", "correct", "two dollar amounts"),
    ("He earned $20 on Monday and $30 on Tuesday, which makes $50 in total.", "30", "wrong", "middle amount"),
    ("Each ticket costs $7.50, so 4 tickets cost $30.", "30", "correct", "decimal dollars"),
    ("The answer is 15 minutes.", "15", "correct", "answer with unit"),
    ("So, she has 3/4 of the pizza left. The answer is 3/4", "0.75", "correct", "slash fraction"),
    ("They need 1,200 bricks in total.", "1200", "correct", "thousands"),
    ("They need 1,200 bricks in total.", "200", "wrong", "thousands not split"),
    ("The final amount is $1,050.75", "1050.75", "correct", "currency thousands decimal"),
    ("There are 8 boys and 12 girls, so 20 students.", "20", "correct", "last number"),
    ("Total time = 2 hours 30 minutes = 150 minutes\n#### 150", "150", "correct", "gsm8k minutes"),
    ("The answer is 0.", "0", "correct", "zero"),
    ("So x = 12 apples. The answer is 12", "12", "correct", "answer after x"),
    ("He saves 10% of $500, i.e. $50.", "50", "correct", "percent then amount"),
    ("The ratio is 2:3, so boys are 2/5 of 40 = 16.", "16", "correct", "ratio then answer"),
    ("The speed is 60 km/h.", "60", "correct", "speed unit"),
]:
    C(G, r, g, e, why)

for i, c in enumerate(cases):
    c["id"] = f"holdout-{c['category']}-{i:03d}"
with open(sys.argv[1], "w") as f:
    for c in cases:
        f.write(json.dumps({k: c[k] for k in ("id", "category", "rationale", "gold", "expected", "reason")}, ensure_ascii=False) + "\n")
print(len(cases))
